#!/usr/bin/env python3
"""Compare another backend's outputs with gemma3-dump's, position by position
and layer by layer. Python 3 standard library only (no numpy needed).

  gemma3-dump -m model.gemma3 --ids 2,105,2364,107,... --logits ref_logits.npy --hidden ref_hidden.npy
  (your backend writes other_logits.npy [tokens, vocab] and other_hidden.npy
   [layers + 1, tokens, hidden], float32 or float64, e.g. with numpy.save)
  python3 compare_dumps.py ref_logits.npy other_logits.npy [ref_hidden.npy other_hidden.npy]

Prints, for the logits: max |diff| and the top-1 id of both per position, and
the top-1 agreement; for the hidden states: max |diff| per layer relative to
the layer's largest |value|, and the first layer where that exceeds --tol.

Shapes (docs/decoder.md, "gemma3-dump"):
  logits  [tokens, V]            V = 262208 for the 4B (all embedding rows). A
                                 backend that dropped the 64 padding rows
                                 (llama.cpp: 262144) is compared on the common ids.
  hidden  [L + 1, tokens, H]     0 = scaled embeddings, i = output of layer i - 1,
                                 before the final norm. Hugging Face's
                                 output_hidden_states has the same first L entries,
                                 then the final-normed state: pass --hf-hidden to
                                 leave that last entry out.
"""
import argparse
import ast
import struct
import sys
from array import array


def read_npy(path):
    """Returns (shape, flat array of floats) of a little-endian float32/float64 .npy."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"error: {path}: not a .npy file")
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    elif major in (2, 3):
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    else:
        sys.exit(f"error: {path}: unsupported .npy version {major}")
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    descr, shape = header["descr"], tuple(header["shape"])
    if header["fortran_order"]:
        sys.exit(f"error: {path}: Fortran order; save a C-order array")
    codes = {"<f4": "f", "<f8": "d"}
    if descr not in codes:
        sys.exit(f"error: {path}: dtype {descr}; save float32 or float64 (arr.astype('float32'))")
    values = array(codes[descr])
    values.frombytes(data[start + hlen:])
    if sys.byteorder != "little":
        values.byteswap()
    count = 1
    for d in shape:
        count *= d
    if len(values) != count:
        sys.exit(f"error: {path}: {len(values)} values for shape {shape}")
    return shape, values


def argmax(values, lo, n):
    best = lo
    for i in range(lo + 1, lo + n):
        if values[i] > values[best]:
            best = i
    return best - lo


def compare_logits(ref_path, other_path, vocab):
    (t1, v1), ref = read_npy(ref_path)
    (t2, v2), other = read_npy(other_path)
    if t1 != t2:
        sys.exit(f"error: {t1} positions in {ref_path}, {t2} in {other_path}")
    v = min(v1, v2) if vocab is None else min(vocab, v1, v2)
    print(f"logits: {t1} positions; {v1} ids in the reference, {v2} in the other"
          + (f"; comparing ids 0..{v - 1}" if v != v1 or v != v2 else ""))
    print("  pos   max|diff|  ref top-1  other top-1")
    worst, agree = (0.0, 0, 0), 0
    for p in range(t1):
        a, b = p * v1, p * v2
        m, at = 0.0, 0
        for i in range(v):
            d = abs(ref[a + i] - other[b + i])
            if d > m:
                m, at = d, i
        r1, o1 = argmax(ref, a, v), argmax(other, b, v)
        agree += r1 == o1
        if m > worst[0]:
            worst = (m, p, at)
        print(f"  {p:3d}  {m:10.3e}  {r1:9d}  {o1:11d}{'' if r1 == o1 else '   <- differs'}")
    print(f"max |diff| {worst[0]:.3e} (position {worst[1]}, id {worst[2]}); "
          f"top-1 agreement {agree}/{t1} ({100.0 * agree / t1:.1f} %)")


def compare_hidden(ref_path, other_path, tol, hf_hidden):
    (l1, t1, h1), ref = read_npy(ref_path)
    (l2, t2, h2), other = read_npy(other_path)
    if hf_hidden:
        l2 -= 1  # the last entry is after the final norm: not in gemma3-dump's stack
    if (t1, h1) != (t2, h2):
        sys.exit(f"error: hidden states [{t1}, {h1}] per layer vs [{t2}, {h2}]")
    layers = min(l1, l2)
    print(f"hidden states: {layers} entries of [{t1}, {h1}] (0 = embeddings, i = layer i-1 output)")
    print("  entry   max|diff|   max|ref|   relative")
    first = None
    size = t1 * h1
    for e in range(layers):
        a, b = e * size, e * size
        m = scale = 0.0
        for i in range(size):
            d = abs(ref[a + i] - other[b + i])
            if d > m:
                m = d
            s = abs(ref[a + i])
            if s > scale:
                scale = s
        rel = m / scale if scale > 0 else m
        name = "embed" if e == 0 else f"layer {e - 1}"
        flag = ""
        if rel > tol and first is None:
            first, flag = name, f"   <- first above {tol:g}"
        print(f"  {name:>8}  {m:10.3e}  {scale:9.3e}  {rel:9.3e}{flag}")
    print(f"first diverging layer: {first if first else 'none'} (relative max |diff| > {tol:g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref_logits")
    ap.add_argument("other_logits")
    ap.add_argument("ref_hidden", nargs="?")
    ap.add_argument("other_hidden", nargs="?")
    ap.add_argument("--tol", type=float, default=1e-2,
                    help="relative max |diff| above which a layer counts as diverging (default 1e-2)")
    ap.add_argument("--vocab", type=int, default=None,
                    help="compare only ids below this (e.g. 262144: the tokenizer's ids, without the padding rows)")
    ap.add_argument("--hf-hidden", action="store_true",
                    help="the other hidden file is HF output_hidden_states (its last entry is after the final norm)")
    args = ap.parse_args()
    compare_logits(args.ref_logits, args.other_logits, args.vocab)
    if args.ref_hidden and args.other_hidden:
        print()
        compare_hidden(args.ref_hidden, args.other_hidden, args.tol, args.hf_hidden)
    elif args.ref_hidden or args.other_hidden:
        sys.exit("error: give both hidden-state files or neither")


if __name__ == "__main__":
    main()
