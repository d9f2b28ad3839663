#!/usr/bin/env python3
"""Writes the small hand-made test images of tests/data/image/ (stdlib only).

Run from anywhere:  python3 tests/data/image/gen/make_images.py
Expected pixel values are stated in tests/test_image.cpp, derived from what
this script writes (palettes, samples), not from any decoder.
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png(width, height, bit_depth, color_type, rows, extra=b"", idat=None):
    """rows: list of raw scanline bytes (without the filter byte)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    if idat is None:
        idat = zlib.compress(b"".join(b"\x00" + r for r in rows), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# Palette PNG, 8-bit indices, 3x2, with tRNS (index 1 half transparent, index 2
# fully transparent): convert("RGB") must give the palette colours, alpha dropped.
PAL = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]
plte = chunk(b"PLTE", bytes(c for rgb in PAL for c in rgb))
trns = chunk(b"tRNS", bytes([255, 128, 0]))
write("palette_3x2.png", png(3, 2, 8, 3, [bytes([0, 1, 2]), bytes([3, 2, 1])], plte + trns))

# 1-bit greyscale 8x1: bits 10110000 -> 255,0,255,255,0,0,0,0.
write("grey1bit_8x1.png", png(8, 1, 1, 0, [bytes([0b10110000])]))

# 16-bit RGB 2x1: samples 0x1234,0xABCD,0x00FF | 0xFF00,0x8080,0x7FFF; high bytes kept.
write("rgb16_2x1.png", png(2, 1, 16, 2,
                           [struct.pack(">6H", 0x1234, 0xABCD, 0x00FF, 0xFF00, 0x8080, 0x7FFF)]))

# 100000 x 1 greyscale ramp (v = x % 256): valid, refused by the default
# 16384-per-side limit, loads when the limit is raised.
write("wide_100000x1.png", png(100000, 1, 8, 0, [bytes(x % 256 for x in range(100000))]))

# Decompression bomb: declares 60000 x 60000 RGB (10.8 GB decoded); its IDAT
# holds only the first rows. Must be refused from the header alone.
bomb_idat = zlib.compress(b"\x00" + bytes(60000 * 3), 9)
write("bomb_60000x60000.png", png(60000, 60000, 8, 2, None, idat=bomb_idat))

# 0 x 0 image (invalid per the PNG spec).
write("zero_0x0.png", png(0, 0, 8, 2, [], idat=zlib.compress(b"")))

# Truncated PNG: the first 40 % of the fixture photo.
with open(os.path.join(OUT, "img0_photo_150x97.png"), "rb") as f:
    photo = f.read()
write("truncated.png", photo[: len(photo) * 4 // 10])

# Not images.
write("empty.png", b"")
write("text.txt", b"This is a text file, not an image.\n")
write("garbage.bin", bytes((i * 7919 + 13) % 251 for i in range(4096)))


# GIF, 3x2, two frames; only the first frame is used.
def gif_lzw(indices, min_code_size=2):
    """Uncompressed LZW: a clear code before every 2 indices, so the code width
    never grows (3 bits for min_code_size 2)."""
    clear, eoi, width = 1 << min_code_size, (1 << min_code_size) + 1, min_code_size + 1
    codes = []
    for i in range(0, len(indices), 2):
        codes.append(clear)
        codes.extend(indices[i:i + 2])
    codes.append(eoi)
    bits, nbits, out = 0, 0, bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    blocks = bytearray([min_code_size])
    for i in range(0, len(out), 255):
        blocks.append(len(out[i:i + 255]))
        blocks += out[i:i + 255]
    blocks.append(0)
    return bytes(blocks)


GPAL = [(200, 10, 10), (10, 200, 10), (10, 10, 200), (250, 250, 250)]
frame = lambda idx: (b"\x2c" + struct.pack("<HHHHB", 0, 0, 3, 2, 0) + gif_lzw(idx))
gif = (b"GIF89a" + struct.pack("<HHBBB", 3, 2, 0x81, 0, 0) +  # global palette, 4 entries
       bytes(c for rgb in GPAL for c in rgb) +
       b"\x21\xf9\x04\x00\x0a\x00\x00\x00" +  # graphic control: 0.1 s, no transparency
       frame([0, 1, 2, 3, 2, 1]) +
       b"\x21\xf9\x04\x00\x0a\x00\x00\x00" +
       frame([3, 3, 3, 0, 0, 0]) + b"\x3b")
write("anim_3x2.gif", gif)

# The same first frame with index 3 transparent (graphic control flag 1, index 3):
# PIL's convert("RGB") shows the palette colour (250, 250, 250), not black.
write("transparent_3x2.gif", b"GIF89a" + struct.pack("<HHBBB", 3, 2, 0x81, 0, 0) +
      bytes(c for rgb in GPAL for c in rgb) + b"\x21\xf9\x04\x01\x0a\x00\x03\x00" +
      frame([0, 1, 2, 3, 2, 1]) + b"\x3b")
write("truncated.gif", gif[:30])
