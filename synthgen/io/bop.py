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
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import (
    check_box,
    contained,
    field,
    guarded_reader,
    image_file,
    integer,
    listing,
    load_json,
    mapping,
    number,
    numbers,
)
from synthgen.io.record import decode_rle, encode_rle
from synthgen.io.store import open_store

__all__ = ["BopExporter", "export_bop", "read_bop", "FORMAT"]

_UINT16_MAX = 65535


def _xywh(box) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [-1, -1, -1, -1] if x1 <= x0 or y1 <= y0 else [x0, y0, x1 - x0, y1 - y0]


def _object_key(obj: LabeledObject) -> tuple:
    return obj.category_id, obj.model or "", round(float(1.0 if obj.scale is None else obj.scale), 9)


def _assign_obj_ids(dataset: LabeledDataset) -> dict[tuple, int]:
    keys = set()
    for image in dataset.images:
        for obj in image.objects:
            if not obj.model:
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
        return image.frame.clip, image.frame.frame
    return image.index // images_per_scene, image.index % images_per_scene


def _depth_png(store: Path, image: LabeledImage) -> tuple[np.ndarray, float]:
    """uint16 depth and its depth_scale (mm per unit): 0.1 mm while it fits, else 1 mm."""
    raw = cv2.imread(str(store / image.depth_file), cv2.IMREAD_UNCHANGED)
    if raw is None:
        with np.load(store / image.depth_file) as stored:
            depth_m = stored["depth"].astype(np.float64)
    else:
        depth_m = raw.astype(np.float64) * image.depth_unit_m
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
        pose = np.asarray(obj.pose, dtype=np.float64)
        gts.append({"cam_R_m2c": pose[:3, :3].ravel().tolist(), "cam_t_m2c": (pose[:3, 3] * 1000.0).tolist(),
                    "obj_id": obj_ids[_object_key(obj)]})
        full = decode_rle(obj.amodal_segmentation)
        visible = decode_rle(obj.segmentation)
        all_count, visible_count = int(full.sum()), int(visible.sum())
        infos.append({"bbox_obj": _xywh(obj.amodal_bbox), "bbox_visib": _xywh(obj.bbox),
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
        if image.camera is None or image.depth_file is None:
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
        yield from sorted(p for p in folder.iterdir() if p.is_dir() and (p / "scene_gt.json").is_file())


def _read_json(path: Path, root: Path) -> dict:
    """A BOP JSON file keyed by integer ids (``"1"``, ``"000001"``) -> {int id: value}."""
    contained(root, path, str(path))
    data = load_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: must be a JSON object keyed by id, as the BOP format documents")
    keyed = {}
    for key, value in data.items():
        if not key.isdigit():
            raise InputError(f"{path}: key {key[:40]!r} is not an integer id")
        if int(key) in keyed:
            raise InputError(f"{path}: id {int(key)} appears twice")
        keyed[int(key)] = value
    return keyed


def _bop_image(scene: Path, root: Path, im_id: int, index: int, camera, gts, infos, objects_known: set[int]) -> LabeledImage:
    where = f"{scene}: im_id {im_id}"
    rgb = next(iter(sorted((scene / "rgb").glob(f"{im_id:06d}.*"))), None)
    if rgb is None:
        raise InputError(f"{scene / 'rgb'}: no image for im_id {im_id}")
    checked = image_file(root, rgb, where)
    width, height = checked.width, checked.height
    gts, infos = listing(gts, f"{scene / 'scene_gt.json'}: {im_id}"), listing(infos, f"{scene / 'scene_gt_info.json'}: {im_id}")
    if len(gts) != len(infos):
        raise InputError(f"{where}: scene_gt.json lists {len(gts)} objects but scene_gt_info.json {len(infos)}; "
                         "the files do not belong together")
    objects = []
    for gt_id, (gt, info) in enumerate(zip(gts, infos)):
        at = f"{where}: gt {gt_id}"
        obj = _bop_object(scene, root, im_id, gt_id, mapping(gt, at), mapping(info, at), (width, height), at)
        if obj is not None:
            if obj.category_id not in objects_known:
                raise InputError(f"{at}: obj_id {obj.category_id} is not in models/models_info.json")
            objects.append(obj)
    camera = mapping(camera, f"{where}: scene_camera")
    K = field(camera, "cam_K", f"{where}: scene_camera", numbers, length=9).reshape(3, 3)
    world_to_camera = np.eye(4)
    if "cam_R_w2c" in camera:
        world_to_camera[:3, :3] = field(camera, "cam_R_w2c", f"{where}: scene_camera", numbers, length=9).reshape(3, 3)
        world_to_camera[:3, 3] = field(camera, "cam_t_w2c", f"{where}: scene_camera", numbers, length=3) / 1000.0
    depth_scale = field(camera, "depth_scale", f"{where}: scene_camera", number, default=1.0)
    if not depth_scale > 0:
        raise InputError(f"{where}: scene_camera: 'depth_scale' must be > 0, got {depth_scale}")
    return LabeledImage(index=index, path=checked.path, width=width, height=height, objects=objects,
                        camera={"K": K.tolist(), "world_to_camera": world_to_camera.tolist()},
                        source={"kind": "synthetic", "dataset": scene.parent.parent.name,
                                "original_id": f"{scene.name}/{im_id}"},
                        depth_file=str((scene / "depth" / f"{im_id:06d}.png").resolve()),
                        depth_unit_m=float(depth_scale) / 1000.0)


def _bop_object(scene: Path, root: Path, im_id: int, gt_id: int, gt: dict, info: dict, size: tuple[int, int],
                where: str) -> LabeledObject | None:
    """One ground-truth object; None when BOP marks it not visible (``bbox_visib`` all -1, no visible pixel)."""
    width, height = size
    obj_id = field(gt, "obj_id", where, integer, 1)
    pose = np.eye(4)
    pose[:3, :3] = field(gt, "cam_R_m2c", where, numbers, length=9).reshape(3, 3)
    pose[:3, 3] = field(gt, "cam_t_m2c", where, numbers, length=3) / 1000.0
    x, y, w, h = field(info, "bbox_visib", where, numbers, length=4)
    visible_pixels = field(info, "px_count_visib", where, number, 0)
    if [x, y, w, h] == [-1, -1, -1, -1] or visible_pixels == 0:
        return None  # BOP's own marker: the object is entirely hidden or outside the image
    box = np.array([x, y, x + w, y + h], dtype=np.float64)
    check_box(box, width, height, f"{where}: 'bbox_visib'")
    mask_path = scene / "mask_visib" / f"{im_id:06d}_{gt_id:06d}.png"
    if not mask_path.is_file():
        raise InputError(f"{mask_path}: missing visible mask of gt {gt_id}")
    image_file(root, mask_path, where, (width, height))  # header first: the decoder sees only sane files
    visible = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if visible is None:
        raise InputError(f"{mask_path}: visible mask of gt {gt_id} could not be decoded; replace it")
    return LabeledObject(
        category_id=obj_id, bbox=box, segmentation=encode_rle(np.asfortranarray(visible > 0)), area=visible_pixels,
        pose=pose, occlusion=1.0 - field(info, "visib_fract", where, number, 0, 1),
        amodal_area=float(int(field(info, "px_count_all", where, number, 0))), extra={"gt_id": gt_id},
    )


@guarded_reader
def read_bop(root: str | Path, split: str | None = None) -> LabeledDataset:
    """A BOP dataset (``root`` holds ``models/`` and split folders) as a ``LabeledDataset``.

    Categories are the objects of ``models/models_info.json`` (named ``obj_000001``, ...);
    each visible object gets its visible box and mask, its 6D pose (``pose``: 4x4
    model -> OpenCV camera, metres), ``occlusion`` (1 - ``visib_fract``), ``amodal_area``
    (``px_count_all``) and BOP's ``gt_id`` (in ``extra``). Objects BOP marks as not visible
    (``bbox_visib`` ``[-1, -1, -1, -1]``, no visible pixel) are left out: they have no 2D label.

    Raises:
        InputError: A required file is missing, unreadable or does not match the others.
    """
    root = Path(root)
    info_path = root / "models" / "models_info.json"
    if not info_path.is_file():
        raise InputError(f"{root}: no models/models_info.json; point at a BOP dataset's root folder")
    if split is not None:
        check_choice("split", split, sorted(p.name for p in root.iterdir() if p.is_dir()))
    objects_known = set(_read_json(info_path, root))
    if not objects_known or min(objects_known) < 1:
        raise InputError(f"{info_path}: must list the objects by obj_id >= 1")
    categories = tuple(CategoryInfo(obj_id, f"obj_{obj_id:06d}") for obj_id in sorted(objects_known))
    images = []
    for scene in _scene_folders(root, split):
        cameras = _read_json(scene / "scene_camera.json", root)
        gts, infos = _read_json(scene / "scene_gt.json", root), _read_json(scene / "scene_gt_info.json", root)
        if set(gts) != set(infos) or not set(gts) <= set(cameras):
            raise InputError(f"{scene}: scene_gt.json, scene_gt_info.json and scene_camera.json list different "
                             f"images ({len(gts)}, {len(infos)}, {len(cameras)}); the files do not belong together")
        for im_id in sorted(gts):
            images.append(_bop_image(scene, root, im_id, len(images), cameras[im_id], gts[im_id], infos[im_id],
                                     objects_known))
    return LabeledDataset(root.name, categories, images)


def _is_bop(path: Path) -> bool:
    return path.is_dir() and (path / "models" / "models_info.json").is_file()


FORMAT = Format("bop", "BOP 6D pose: models, rgb, depth, masks, scene_gt", read=lambda path, name: read_bop(path),
                detect=_is_bop, needs="store")
