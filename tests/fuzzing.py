"""Hostile datasets for the readers: valid datasets of every readable format, mutated.

Shared by the fuzz tests (``tests/integration/test_reader_fuzz.py``, driven by hypothesis)
and ``scripts/fuzz_readers.py`` (tallies outcomes over many cases). A case is read in a child
process (``python -m tests.fuzz_worker``) so that a native crash or a hang is an outcome we
see, not the end of the run.

Outcomes: ``error`` (a SynthgenError naming the dataset), ``data`` (read, and every sanity
check passed), and the failures ``unexpected`` (any other exception, or the readers' last-line
guard), ``unnamed`` (a SynthgenError that does not name the dataset), ``insane`` (data that
fails a sanity check), ``crash`` (the process died) and ``hang`` (no answer in time).
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import yaml

FORMATS = ("coco", "yolo", "voc", "labelstudio", "bop", "synthgen")
FAILURES = ("unexpected", "unnamed", "insane", "crash", "hang")

HOSTILE_VALUES = [None, True, False, float("nan"), float("inf"), -float("inf"), -1, 0, 1, 2, 5, 7, 1.5, 64.0, 1e9,
                  -1e9, 2**64, 10**400 // 10**390, "1", "", "x", "x" * 300, "nan", [], {}, [1, 2], [[1]], [1, 2, 3],
                  {"a": 1}, "../outside.png", "/etc/hostname", "file:///etc/hostname", "http://example.com/a.png",
                  "/data/local-files/?d=..%2Foutside.png", "images/../../outside.png", "é" * 3, [float("nan")] * 6,
                  [0, 0, 1e9, 1e9, 5, 5], [-1, -1, -1, -1], [1000000000, 3]]
HOSTILE_TOKENS = ["nan", "inf", "-inf", "-1", "0", "1", "2", "1.5", "1e9", "1e400", "", "x", "0.5", "64.0", "true",
                  "5", "7", "1000000000"]


# Valid datasets ----------------------------------------------------------------


def _image(path: Path, width: int = 32, height: int = 24, seed: int = 0) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")


def _mask_png(path: Path, mask: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((mask * 255).astype(np.uint8)).save(path)


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def write_coco(root: Path) -> Path:
    for k in range(2):
        _image(root / "images" / f"{k}.png", seed=k)
    mask = np.zeros((24, 32), bool)
    mask[4:10, 6:14] = True
    data = {
        "images": [{"id": 1, "file_name": "0.png", "width": 32, "height": 24},
                   {"id": 2, "file_name": "1.png", "width": 32, "height": 24}],
        "categories": [{"id": 1, "name": "box"},
                       {"id": 2, "name": "person", "keypoints": ["head", "foot"], "skeleton": [[1, 2]]}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 8], "area": 80, "iscrowd": 0,
             "segmentation": [[2, 3, 12, 3, 12, 11, 2, 11]]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [6, 4, 8, 6], "area": 48, "iscrowd": 0,
             "segmentation": _rle(mask)},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [10, 2, 6, 20], "area": 120, "iscrowd": 0,
             "keypoints": [12, 3, 2, 13, 20, 1], "num_keypoints": 2},
            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": {"size": [24, 32], "counts": [0, 4, 20, 4, 20, 4, 20, 4, 692]}},
        ],
    }
    (root / "instances.json").write_text(json.dumps(data))
    (root / "polylines.json").write_text(json.dumps({
        "images": data["images"], "categories": [{"id": 10, "name": "lane"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 10, "polyline": [1, 1, 2, 20, 20, 2, 30, 5, 0]}]}))
    return root / "instances.json"


def write_yolo(root: Path) -> Path:
    for split in ("train", "val"):
        for k in range(2):
            _image(root / "images" / split / f"{k}.png", seed=k)
            lines = ["0 0.5 0.5 0.25 0.25", "1 0.1 0.1 0.4 0.1 0.4 0.5 0.1 0.5",
                     "0 0.5 0.5 0.5 0.5 0.45 0.4 2 0.55 0.6 1"]
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{k}.txt").write_text("\n".join(lines[k:] if split == "train" else lines) + "\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: box\n  1: ring\n"
                                    "kpt_shape: [2, 3]\nflip_idx: [1, 0]\n")
    return root / "data.yaml"


def write_voc(root: Path) -> Path:
    for k in range(2):
        _image(root / "JPEGImages" / f"{k}.png", seed=k)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{k}.xml").write_text(
            f"<annotation><filename>{k}.png</filename><size><width>32</width><height>24</height><depth>3</depth></size>"
            "<object><name>box</name><truncated>0</truncated><occluded>1</occluded><difficult>0</difficult>"
            "<bndbox><xmin>3</xmin><ymin>4</ymin><xmax>12</xmax><ymax>11</ymax></bndbox></object>"
            "<object><name>ring</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>32</xmax><ymax>24</ymax></bndbox>"
            "</object></annotation>")
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("0\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("1\n")
    return root


def write_labelstudio(root: Path) -> Path:
    for k in range(2):
        _image(root / "images" / f"{k}.png", seed=k)
    result = [
        {"id": "a-box", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
         "value": {"x": 10, "y": 10, "width": 30, "height": 40, "rectanglelabels": ["box"]}},
        {"id": "a-outline", "type": "polygonlabels", "from_name": "outline", "to_name": "image",
         "value": {"points": [[12, 12], [35, 12], [35, 45], [12, 45]], "polygonlabels": ["box"]}},
        {"id": "a-kp", "type": "keypointlabels", "from_name": "kp", "to_name": "image", "meta": {"text": ["occluded"]},
         "value": {"x": 20, "y": 20, "width": 1, "keypointlabels": ["tip"]}},
        {"id": "b-outline", "type": "polygonlabels", "from_name": "outline", "to_name": "image",
         "value": {"points": [[60, 60], [90, 60], [90, 90]], "polygonlabels": ["ring"]}},
    ]
    tasks = [{"id": 1, "data": {"image": "/data/local-files/?d=images/0.png"}, "annotations": [{"result": result}]},
             {"id": 2, "data": {"image": "images/1.png", "split": "val"}, "predictions": [{"result": result[:1]}]}]
    (root / "tasks.json").write_text(json.dumps(tasks))
    (root / "labeling_config.xml").write_text(
        '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
        '<Label value="box"/><Label value="ring"/></RectangleLabels></View>')
    return root / "tasks.json"


def write_bop(root: Path) -> Path:
    scene = root / "train_pbr" / "000000"
    (root / "models").mkdir(parents=True)
    (root / "models" / "models_info.json").write_text(json.dumps({"1": {"diameter": 10.0}, "2": {"diameter": 20.0}}))
    camera, gt, info = {}, {}, {}
    for im_id in range(2):
        _image(scene / "rgb" / f"{im_id:06d}.png", seed=im_id)
        camera[str(im_id)] = {"cam_K": [30, 0, 16, 0, 30, 12, 0, 0, 1], "depth_scale": 0.1}
        gt[str(im_id)] = [{"cam_R_m2c": [1, 0, 0, 0, 1, 0, 0, 0, 1], "cam_t_m2c": [0, 0, 500], "obj_id": 1},
                          {"cam_R_m2c": [1, 0, 0, 0, 1, 0, 0, 0, 1], "cam_t_m2c": [10, 0, 600], "obj_id": 2}]
        info[str(im_id)] = [{"bbox_obj": [4, 5, 8, 6], "bbox_visib": [4, 5, 8, 6], "px_count_all": 48,
                             "px_count_visib": 48, "px_count_valid": 48, "visib_fract": 1.0},
                            {"bbox_obj": [20, 5, 8, 6], "bbox_visib": [-1, -1, -1, -1], "px_count_all": 48,
                             "px_count_visib": 0, "px_count_valid": 0, "visib_fract": 0.0}]
        mask = np.zeros((24, 32), bool)
        mask[5:11, 4:12] = True
        _mask_png(scene / "mask_visib" / f"{im_id:06d}_000000.png", mask)
        _mask_png(scene / "mask_visib" / f"{im_id:06d}_000001.png", np.zeros((24, 32), bool))
    for name, data in (("scene_camera", camera), ("scene_gt", gt), ("scene_gt_info", info)):
        (scene / f"{name}.json").write_text(json.dumps(data))
    return root


def write_store(root: Path) -> Path:
    """A real synthgen store: two 48x36 tabletop renders (pyrender, EGL), each with a small LiDAR
    sweep (``lidar/*.pcd`` and the record's ``lidar`` entry are fuzzed too)."""
    from hydra import compose, initialize_config_dir

    from synthgen.commands.generate import generate
    from synthgen.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", overrides=[
            f"out={root}", "n=2", "render.width=48", "render.height=36", "progress=false", "scene.placement.count=[2,3]",
            "lidar=vlp16", "lidar.columns=90", "lidar.level=false", "lidar.offset_m=[0,0,0]"])
    generate(cfg)
    return root


WRITERS = {"coco": write_coco, "yolo": write_yolo, "voc": write_voc, "labelstudio": write_labelstudio,
           "bop": write_bop, "synthgen": write_store}


def build_bases(folder: Path, formats=FORMATS) -> dict[str, tuple[Path, Path]]:
    """One valid dataset per format under ``folder``: format -> (dataset folder, what to read)."""
    bases = {}
    for name in formats:
        root = folder / name
        root.mkdir(parents=True)
        bases[name] = (root, WRITERS[name](root))
    return bases


# Mutations ---------------------------------------------------------------------


def _bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares a huge image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _paths(tree, prefix=()) -> list[tuple]:
    found = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += _paths(value, prefix + (index,))
    return found


def _hostile(rng: random.Random, current):
    if isinstance(current, (int, float)) and not isinstance(current, bool) and rng.random() < 0.3:
        return rng.choice([current * 1000, -current, current + 0.5, current + 32, float("nan")])
    return rng.choice(HOSTILE_VALUES)


def mutate_tree(tree, rng: random.Random):
    """One structural change at a random place of a parsed JSON/YAML document."""
    paths = _paths(tree)
    path = rng.choice(paths)
    if not path:
        return _hostile(rng, tree)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    operation = rng.random()
    if operation < 0.6:
        parent[key] = _hostile(rng, parent[key])
    elif operation < 0.75:
        del parent[key]
    elif operation < 0.9 and isinstance(parent, list):
        parent.insert(rng.randrange(len(parent) + 1), json.loads(json.dumps(parent[key])))  # a duplicate entry
    elif isinstance(parent[key], list) and parent[key]:
        parent[key] = parent[key][: rng.randrange(len(parent[key]))]
    else:
        parent[key] = _hostile(rng, parent[key])
    return tree


def _mutate_text(content: str, rng: random.Random) -> str:
    lines = content.splitlines() or [""]
    index = rng.randrange(len(lines))
    tokens = lines[index].split(" ")
    operation = rng.random()
    if operation < 0.5:
        tokens[rng.randrange(len(tokens))] = rng.choice(HOSTILE_TOKENS)
    elif operation < 0.65:
        del tokens[rng.randrange(len(tokens))]
    elif operation < 0.8:
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(HOSTILE_TOKENS))
    elif operation < 0.9:
        lines.insert(index, lines[index])
    else:
        lines[index] = ""
    lines[index] = " ".join(tokens) if operation < 0.8 else lines[index]
    return "\n".join(lines) + "\n"


def _mutate_xml(content: str, rng: random.Random) -> str:
    try:
        tree = ET.fromstring(content)
    except ET.ParseError:
        return _mutate_text(content, rng)
    elements = list(tree.iter())
    element = rng.choice(elements)
    operation = rng.random()
    if operation < 0.6 or element is tree:
        element.text = rng.choice(HOSTILE_TOKENS + ["../outside.png", "/etc/hostname", "64.0", "true", "é"])
    else:
        parent = next(p for p in elements if element in list(p))
        if operation < 0.8:
            parent.remove(element)
        else:
            parent.append(ET.fromstring(ET.tostring(element)))
    return ET.tostring(tree, encoding="unicode")


def _mutate_file_content(path: Path, rng: random.Random) -> None:
    suffix = path.suffix
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        content = None
    if content is not None and suffix == ".json":
        try:
            tree = json.loads(content)
        except ValueError:
            tree = None
        if tree is not None:
            path.write_text(json.dumps(mutate_tree(tree, rng)))
            return
    if content is not None and suffix in (".yaml", ".yml"):
        try:
            tree = yaml.safe_load(content)
        except yaml.YAMLError:
            tree = None
        if tree is not None:
            path.write_text(yaml.safe_dump(mutate_tree(tree, rng), allow_unicode=True))
            return
    if content is not None and suffix == ".xml":
        path.write_text(_mutate_xml(content, rng))
        return
    if content is not None:
        path.write_text(_mutate_text(content, rng))
        return
    _mutate_binary(path, raw, rng)


def _mutate_binary(path: Path, raw: bytes, rng: random.Random) -> None:
    operation = rng.random()
    if operation < 0.3:
        path.write_bytes(raw[: rng.randrange(len(raw) + 1)])  # truncated, maybe empty
    elif operation < 0.5:
        _image(path, *rng.choice([(48, 48), (24, 32), (1, 1), (33, 24)]), seed=1)  # another size, same name
    elif operation < 0.65:
        path.write_bytes(_bomb_png())
    elif operation < 0.8:
        path.write_bytes(b"not an image at all\n")
    else:
        data = bytearray(raw)
        for _ in range(8):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))


def _mutate_filesystem(path: Path, root: Path, rng: random.Random) -> None:
    operation = rng.random()
    outside = root.parent / "outside.png"
    if operation < 0.2:
        path.unlink()
    elif operation < 0.35:
        path.unlink()
        path.mkdir()
    elif operation < 0.6:
        path.unlink()
        os.symlink(outside if path.suffix.lower() == ".png" else root.parent / "outside.txt", path)
    elif operation < 0.7:
        path.unlink()
        os.symlink(path, path)  # a symlink loop
    elif operation < 0.8:
        path.write_bytes(b"\xff\xfe\x00bad bytes \xc3\x28\n")
    elif operation < 0.9:
        path.write_bytes(b"")
    else:
        path.rename(path.with_name("x" * 250 + path.suffix))


def mutate_dataset(root: Path, rng: random.Random, label_bias: float = 0.75) -> list[str]:
    """Apply 1-3 mutations to the dataset copy at ``root``; returns what was done, for the report."""
    done = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        files = sorted(p for p in root.rglob("*") if (p.is_file() or p.is_symlink()) and not p.name.startswith("."))
        if not files:
            break
        labels = [p for p in files if p.suffix in (".json", ".txt", ".xml", ".yaml")]
        path = rng.choice(labels if labels and rng.random() < label_bias else files)
        relative = str(path.relative_to(root))
        if path.is_symlink() or not path.is_file():
            continue
        if rng.random() < 0.8:
            _mutate_file_content(path, rng)
            done.append(f"content {relative}")
        else:
            _mutate_filesystem(path, root, rng)
            done.append(f"filesystem {relative}")
    return done


def case_folder(base: Path, work: Path, number: int) -> Path:
    """A fresh copy of ``base`` as ``work/case-<number>/<base name>``, with files outside it to point at."""
    case = work / f"case-{number}"
    shutil.rmtree(case, ignore_errors=True)
    case.mkdir(parents=True)
    _image(case / "outside.png", 32, 24, seed=0)
    (case / "outside.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    root = case / base.name
    shutil.copytree(base, root, symlinks=True)
    return root


# The child process -------------------------------------------------------------


class Worker:
    """A ``python -m tests.fuzz_worker`` process; reads one case at a time, restarted after a crash or hang."""

    def __init__(self, timeout_s: float = 20.0, cwd: Path | None = None):
        self.timeout_s = timeout_s
        self.cwd = cwd or Path(__file__).resolve().parent.parent  # the checkout whose synthgen is read with
        self.process = None

    def _start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.fuzz_worker"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=self.cwd)

    def read(self, format: str, path: Path) -> dict:
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.process.stdin.write(json.dumps({"format": format, "path": str(path)}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout_s)
        if not ready:
            self.close()
            return {"outcome": "hang", "message": f"no answer in {self.timeout_s} s"}
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            self.process = None
            return {"outcome": "crash", "message": f"the reader process died (exit code {code})"}
        return json.loads(line)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
