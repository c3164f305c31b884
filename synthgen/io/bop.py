"""BOP format (Benchmark for 6D Object Pose Estimation): writer and reader.

Layout written (as the BOP toolkit's ``docs/bop_datasets_format.md`` describes it)::

    models/obj_000001.ply        models in millimetres (vertices, faces, vertex colours)
    models/models_info.json      obj_id -> diameter, min_x/y/z, size_x/y/z (mm)
    camera.json                  cam_K, depth_scale, width, height of the first image
    obj_ids.json                 obj_id -> synthgen category, model and scale (synthgen's addition)
    <split>/<scene_id:06d>/
        rgb/<im_id:06d>.png|jpg
        depth/<im_id:06d>.png    uint16; depth in mm = value x depth_scale
        mask/<im_id:06d>_<gt_id:06d>.png        the object's full silhouette (0/255)
        mask_visib/<im_id:06d>_<gt_id:06d>.png  its visible part (0/255)
        scene_camera.json        im_id -> cam_K (3x3 row-major), depth_scale, cam_R_w2c, cam_t_w2c (mm)
        scene_gt.json            im_id -> [{obj_id, cam_R_m2c (row-major), cam_t_m2c (mm)}], gt_id = position
        scene_gt_info.json       im_id -> [{bbox_obj, bbox_visib ([x, y, w, h]), px_count_all,
                                            px_count_valid, px_count_visib, visib_fract}]

A BOP object is one rigid model: every distinct (mesh, scale) of the store's instances
is one ``obj_id`` (1.. in category order), so a category drawn at one size maps to one
object; varied scales make one object per size. Images are grouped into scenes of
``images_per_scene`` (sequences: one clip per scene). ``px_count_all`` counts the
silhouette inside the image (the toolkit renders a larger canvas, so the two differ for
objects cut by the image border); ``visib_fract = px_count_visib / px_count_all`` is then
``1 - occlusion`` of the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import trimesh

from synthgen.core import CategoryInfo
from synthgen.core.errors import InputError
from synthgen.core.validation import check_choice, check_number
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.files import write_json_atomic
from synthgen.io.record import decode_rle, encode_rle
from synthgen.io.store import open_store

__all__ = ["BopExporter", "export_bop", "read_bop"]

_UINT16_MAX = 65535


def _xywh(box) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [-1, -1, -1, -1] if x1 <= x0 or y1 <= y0 else [x0, y0, x1 - x0, y1 - y0]


def _object_key(obj: LabeledObject) -> tuple:
    return obj.category_id, obj.extra.get("model", ""), round(float(obj.extra.get("scale", 1.0)), 9)


def _assign_obj_ids(dataset: LabeledDataset) -> dict[tuple, int]:
    keys = set()
    for image in dataset.images:
        for obj in image.objects:
            if not obj.extra.get("model"):
                raise InputError(f"{image.path}: an object of category {obj.category_id} has no rigid model "
                                 "(a posed figure, or a store written before models were kept); BOP needs rigid models")
            keys.add(_object_key(obj))
    return {key: number for number, key in enumerate(sorted(keys), start=1)}


def _models_info(vertices_mm: np.ndarray) -> dict:
    hull = trimesh.convex.convex_hull(vertices_mm).vertices  # the farthest pair lies on the hull
    diameter = float(np.max(np.linalg.norm(hull[:, None] - hull[None], axis=2)))
    low, high = vertices_mm.min(axis=0), vertices_mm.max(axis=0)
    return {"diameter": diameter, **{f"min_{a}": float(v) for a, v in zip("xyz", low)},
            **{f"size_{a}": float(v) for a, v in zip("xyz", high - low)}}


def _write_models(store: Path, obj_ids: dict[tuple, int], dataset: LabeledDataset, out: Path) -> None:
    models = out / "models"
    models.mkdir(parents=True)
    info, names = {}, {}
    for (category_id, model, scale), obj_id in obj_ids.items():
        path = store / "models" / f"{model}.ply"
        if not path.is_file():
            raise InputError(f"{path}: the store's model file is missing; regenerate or merge the store with its models/")
        mesh = trimesh.load(path, process=False, force="mesh")
        mesh.apply_scale(scale * 1000.0)  # metres -> millimetres, at the instance's size
        mesh.export(models / f"obj_{obj_id:06d}.ply", encoding="binary")
        info[str(obj_id)] = _models_info(np.asarray(mesh.vertices))
        names[str(obj_id)] = {"category_id": category_id, "category": dataset.category(category_id).name,
                              "model": model, "scale": scale}
    write_json_atomic(models / "models_info.json", info)
    write_json_atomic(out / "obj_ids.json", names)


def _scene_of(image: LabeledImage, images_per_scene: int) -> tuple[int, int]:
    if image.frame is not None:
        return image.frame["clip"], image.frame["frame"]
    return image.index // images_per_scene, image.index % images_per_scene


def _depth_png(store: Path, image: LabeledImage) -> tuple[np.ndarray, float]:
    """uint16 depth and its depth_scale (mm per unit): 0.1 mm while it fits, else 1 mm."""
    raw = cv2.imread(str(store / image.extra["depth_file"]), cv2.IMREAD_UNCHANGED)
    if raw is None:
        with np.load(store / image.extra["depth_file"]) as stored:
            depth_m = stored["depth"].astype(np.float64)
    else:
        depth_m = raw.astype(np.float64) * image.extra["depth_unit_m"]
    depth_mm = depth_m * 1000.0
    scale = 0.1 if depth_mm.max() / 0.1 <= _UINT16_MAX else 1.0
    return np.clip(np.rint(depth_mm / scale), 0, _UINT16_MAX).astype(np.uint16), scale


def _write_image(store: Path, image: LabeledImage, folder: Path, im_id: int, obj_ids: dict[tuple, int],
                 jsons: dict[str, dict]) -> None:
    name = f"{im_id:06d}"
    place_image(image.path, folder / "rgb" / f"{name}{image.path.suffix}")
    depth, depth_scale = _depth_png(store, image)
    cv2.imwrite(str(folder / "depth" / f"{name}.png"), depth)
    K = np.asarray(image.camera["K"], dtype=np.float64)
    world_to_camera = np.asarray(image.camera["world_to_camera"], dtype=np.float64)
    jsons["scene_camera"][str(im_id)] = {"cam_K": K.ravel().tolist(), "depth_scale": depth_scale,
                                         "cam_R_w2c": world_to_camera[:3, :3].ravel().tolist(),
                                         "cam_t_w2c": (world_to_camera[:3, 3] * 1000.0).tolist()}
    gts, infos = [], []
    for gt_id, obj in enumerate(image.objects):
        pose = np.asarray(obj.extra["pose"], dtype=np.float64)
        gts.append({"cam_R_m2c": pose[:3, :3].ravel().tolist(), "cam_t_m2c": (pose[:3, 3] * 1000.0).tolist(),
                    "obj_id": obj_ids[_object_key(obj)]})
        full = decode_rle(obj.extra["amodal_segmentation"])
        visible = decode_rle(obj.segmentation)
        all_count, visible_count = int(full.sum()), int(visible.sum())
        infos.append({"bbox_obj": _xywh(obj.extra["amodal_bbox"]), "bbox_visib": _xywh(obj.bbox),
                      "px_count_all": all_count, "px_count_valid": int(np.count_nonzero(full & (depth > 0))),
                      "px_count_visib": visible_count,
                      "visib_fract": visible_count / all_count if all_count else 0.0})
        for kind, mask in (("mask", full), ("mask_visib", visible)):
            cv2.imwrite(str(folder / kind / f"{name}_{gt_id:06d}.png"), mask.astype(np.uint8) * 255)
    jsons["scene_gt"][str(im_id)] = gts
    jsons["scene_gt_info"][str(im_id)] = infos


def export_bop(store: str | Path, out: str | Path, split: str = "train_pbr", images_per_scene: int = 1000) -> Path:
    """Write the synthgen store at ``store`` in the BOP layout under ``out``; returns ``out/split``.

    Raises:
        InputError: An image has no camera or depth, an object no rigid model, or a model
            file is missing.
    """
    store, out = Path(store), Path(out)
    dataset = open_store(store)
    obj_ids = _assign_obj_ids(dataset)
    _write_models(store, obj_ids, dataset, out)
    scenes: dict[int, dict[str, dict]] = {}
    camera_written = False
    for image in dataset.images:
        if image.camera is None or "depth_file" not in image.extra:
            raise InputError(f"{image.path}: no camera or depth; BOP export needs a synthgen store")
        scene_id, im_id = _scene_of(image, images_per_scene)
        folder = out / split / f"{scene_id:06d}"
        if scene_id not in scenes:
            for kind in ("rgb", "depth", "mask", "mask_visib"):
                (folder / kind).mkdir(parents=True, exist_ok=True)
            scenes[scene_id] = {"scene_camera": {}, "scene_gt": {}, "scene_gt_info": {}}
        _write_image(store, image, folder, im_id, obj_ids, scenes[scene_id])
        if not camera_written:
            first = scenes[scene_id]["scene_camera"][str(im_id)]
            write_json_atomic(out / "camera.json", {"cam_K": first["cam_K"], "depth_scale": first["depth_scale"],
                                                    "width": image.width, "height": image.height})
            camera_written = True
    for scene_id, jsons in scenes.items():
        for name, content in jsons.items():
            write_json_atomic(out / split / f"{scene_id:06d}" / f"{name}.json", content)
    return out / split


class BopExporter(StoreExporter):
    """Config node of the BOP export (``export=[bop]``; writes ``<out>/exports/bop``).

    Args:
        split: Name of the split folder (BOP's synthetic training split: ``train_pbr``).
        images_per_scene: Still images per scene folder (BOP's PBR sets: 1000).
    """

    folder = "bop"

    def __init__(self, split: str = "train_pbr", images_per_scene: int = 1000):
        if not isinstance(split, str) or not split or "/" in split:
            raise InputError(f"split: must be a folder name, got {split!r}")
        self.split = split
        self.images_per_scene = check_number("images_per_scene", images_per_scene, minimum=1, integer=True)

    def export_to(self, root: str | Path, out: Path) -> Path:
        return export_bop(root, out, self.split, self.images_per_scene)

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        raise InputError("BOP export needs a synthgen store (depth, 6D poses, models); other datasets have none")


def _scene_folders(root: Path, split: str | None) -> Iterator[Path]:
    splits = [root / split] if split else sorted(p for p in root.iterdir() if p.is_dir() and p.name != "models")
    for folder in splits:
        yield from sorted(p for p in folder.iterdir() if (p / "scene_gt.json").is_file())


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: unreadable BOP file ({error}); it must be JSON keyed by image id") from error


def _bop_image(scene: Path, im_id: str, index: int, camera: dict, gts: list, infos: list) -> LabeledImage:
    rgb = next((p for p in (scene / "rgb").glob(f"{int(im_id):06d}.*")), None)
    if rgb is None:
        raise InputError(f"{scene / 'rgb'}: no image for im_id {im_id}")
    height, width = cv2.imread(str(rgb), cv2.IMREAD_UNCHANGED).shape[:2]
    objects = []
    for gt_id, (gt, info) in enumerate(zip(gts, infos)):
        mask_path = scene / "mask_visib" / f"{int(im_id):06d}_{gt_id:06d}.png"
        visible = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if visible is None:
            raise InputError(f"{mask_path}: missing visible mask of gt {gt_id}")
        x, y, w, h = info["bbox_visib"]
        pose = np.eye(4)
        pose[:3, :3] = np.asarray(gt["cam_R_m2c"], dtype=np.float64).reshape(3, 3)
        pose[:3, 3] = np.asarray(gt["cam_t_m2c"], dtype=np.float64) / 1000.0
        objects.append(LabeledObject(
            category_id=int(gt["obj_id"]), bbox=np.array([x, y, x + w, y + h], dtype=np.float64),
            segmentation=encode_rle(np.asfortranarray(visible > 0)), area=float(info["px_count_visib"]),
            extra={"pose": pose.tolist(), "visib_fract": float(info["visib_fract"]),
                   "px_count_all": int(info["px_count_all"]), "gt_id": gt_id},
        ))
    K = np.asarray(camera["cam_K"], dtype=np.float64).reshape(3, 3)
    world_to_camera = np.eye(4)
    if "cam_R_w2c" in camera:
        world_to_camera[:3, :3] = np.asarray(camera["cam_R_w2c"], dtype=np.float64).reshape(3, 3)
        world_to_camera[:3, 3] = np.asarray(camera["cam_t_w2c"], dtype=np.float64) / 1000.0
    return LabeledImage(index=index, path=rgb.resolve(), width=width, height=height, objects=objects,
                        camera={"K": K.tolist(), "world_to_camera": world_to_camera.tolist()},
                        source={"kind": "synthetic", "dataset": scene.parent.parent.name,
                                "original_id": f"{scene.name}/{im_id}"},
                        extra={"depth_file": str((scene / "depth" / f"{int(im_id):06d}.png").resolve()),
                               "depth_unit_m": float(camera.get("depth_scale", 1.0)) / 1000.0})


def read_bop(root: str | Path, split: str | None = None) -> LabeledDataset:
    """A BOP dataset (``root`` holds ``models/`` and split folders) as a ``LabeledDataset``.

    Categories are the objects of ``models/models_info.json`` (named ``obj_000001``, ...);
    each object gets its visible box and mask, its 6D pose (``extra["pose"]``: 4x4 model ->
    OpenCV camera, metres) and ``visib_fract``.

    Raises:
        InputError: A required file is missing or unreadable.
    """
    root = Path(root)
    info_path = root / "models" / "models_info.json"
    if not info_path.is_file():
        raise InputError(f"{root}: no models/models_info.json; point at a BOP dataset's root folder")
    if split is not None:
        check_choice("split", split, sorted(p.name for p in root.iterdir() if p.is_dir()))
    categories = tuple(CategoryInfo(int(obj_id), f"obj_{int(obj_id):06d}")
                       for obj_id in sorted(_read_json(info_path), key=int))
    images = []
    for scene in _scene_folders(root, split):
        cameras = _read_json(scene / "scene_camera.json")
        gts, infos = _read_json(scene / "scene_gt.json"), _read_json(scene / "scene_gt_info.json")
        for im_id in sorted(gts, key=int):
            if im_id not in cameras or im_id not in infos:
                raise InputError(f"{scene}: im_id {im_id} is in scene_gt.json but not in scene_camera.json "
                                 "or scene_gt_info.json")
            images.append(_bop_image(scene, im_id, len(images), cameras[im_id], gts[im_id], infos[im_id]))
    return LabeledDataset(root.name, categories, images)
