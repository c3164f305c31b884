#!/usr/bin/env bash
# The wheels the GPU device check needs beyond what the device machine's image holds, downloaded
# here for its CPython (the device reaches no package registry). Its image already has numpy,
# opencv-python-headless, pillow, scipy, networkx, pyyaml, tqdm, imageio, six, requests, torch,
# torchvision, transformers, huggingface-hub, safetensors, setuptools and wheel (see the device
# tool's KINDS.md); everything else synthgen's core, its lidar extra and diffusers need is here.
#   bash scripts/device_wheelhouse.sh [DEST] [PYTHON_VERSION]     (default .device_wheels 3.12)
# then carry DEST to the device; scripts/device_check_all.sh installs from it when synthgen is
# missing (pip --no-index --no-deps, then synthgen itself without build isolation).
set -euo pipefail
dest="${1:-.device_wheels}"
version="${2:-3.12}"
python=${PYTHON:-python3}
wheels=(
  # PyOpenGL 3.1.10, not pyrender's pin 3.1.0: 3.1.0 fails on CPython 3.12 (ctypes), 3.1.10 renders the same.
  "trimesh>=4" "pyrender>=0.1.45" "PyOpenGL==3.1.10" freetype-py "pyglet>=1.4.10,<2"
  "hydra-core>=1.3.2,<1.4" "omegaconf>=2.3,<2.4"
  "pycocotools>=2.0.8"
  "albumentations==2.0.8" "albucore==0.0.24" stringzilla simsimd pydantic pydantic-core annotated-types
  typing-inspection
  "embreex>=4.3"
  "diffusers>=0.42,<1" importlib-metadata zipp
)
mkdir -p "$dest"
"$python" -m pip download --quiet --dest "$dest" --no-deps --only-binary=:all: --implementation cp \
  --python-version "$version" --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 --platform any "${wheels[@]}"
# hydra pins antlr4 4.9, pure Python, published as a source archive only.
"$python" -m pip download --quiet --dest "$dest" --no-deps --no-binary=:all: "antlr4-python3-runtime==4.9.3"
du -sh "$dest"
