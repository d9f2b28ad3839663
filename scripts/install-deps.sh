#!/usr/bin/env bash
# Installs the Debian 12 packages gemma3 needs, if any is missing (run as root).
#   build:      cmake g++ make pkg-config
#   library:    libhwy-dev (Highway SIMD), libjpeg62-turbo-dev (JPEG, Pillow's decoder),
#               libstb-dev (stb_image: PNG, GIF, BMP, PNM), OpenMP comes with g++
#   tests:      doctest-dev
#   benchmarks: libsentencepiece-dev (tokenizer comparison only; never the library)
#
#   scripts/install-deps.sh            the packages above
#   scripts/install-deps.sh PKG...     these instead (the other scripts' extras); a PKG:ARCH
#                                      adds that dpkg architecture first (multiarch)
set -euo pipefail
pkgs=(cmake g++ make pkg-config libhwy-dev libjpeg62-turbo-dev libstb-dev doctest-dev libsentencepiece-dev)
(($#)) && pkgs=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  for p in "${missing[@]}"; do
    arch="${p#*:}"
    if [[ "$arch" != "$p" ]] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      dpkg --add-architecture "$arch"
    fi
  done
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
