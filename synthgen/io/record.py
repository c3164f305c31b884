"""The record codec: a ``Sample`` <-> its stored label record (``labels/NNNNNN.json``).

One place for the record's layout, used by the writer (``DatasetWriter``), the reader
(``read_sample``), ``open_store`` (records as ``LabeledImage``) and merge (a record's
files). A record is compact JSON: format, index, size, file names relative to the store,
depth unit, camera (K, world_to_camera, OpenCV convention), instances (boxes xyxy with
exclusive maxima, visible and amodal masks as COCO RLE, areas, occlusion, truncation,
keypoints (K, 3) x, y, v, cuboid, pose), dropped instance ids, polylines, augmentations,
and for sequences frame + tracks, for diffusion the generation provenance. NaN (a
keypoint outside the image, an unknown cuboid corner) is written as null.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from pycocotools import mask as mask_utils

from synthgen.core import (
    TRACK_STATES,
    Camera,
    CategoryInfo,
    Cuboid,
    FlowField,
    FrameInfo,
    Instance,
    LidarBox,
    LidarSweep,
    MeshGeometry,
    PolylineLabel,
    Sample,
    Track,
)
from synthgen.core.color import linear_to_srgb8
from synthgen.core.errors import InputError
from synthgen.io.dataset import LabeledImage, LabeledObject, LidarFrame
from synthgen.io.input_checks import (
    camera_record,
    check_box,
    checked_keypoints,
    cuboid_record,
    dataset_path,
    field,
    image_file,
    integer,
    listing,
    mapping,
    matrix,
    number,
    numbers,
    rle_of,
    text,
)

__all__ = [
    "RECORD_FORMAT",
    "array_from_json",
    "cuboid_from_record",
    "cuboid_to_record",
    "decode_rle",
    "encode_rle",
    "json_array",
    "labeled_image",
    "labeled_object",
    "lidar_record",
    "model_ply",
    "record_files",
    "sample_from_record",
    "sample_record",
]

RECORD_FORMAT = "synthgen-sample/1"
_CUBOID_FIELDS = ("dimensions", "center", "rotation", "corners_3d", "corners_2d")  # Cuboid's fields, in its order


def model_ply(geometry: MeshGeometry) -> bytes:
    """A rigid mesh as binary PLY bytes: vertices (metres, object frame), faces, and its vertex
    colours (sRGB 0..255) when it has them."""
    colors = None
    if geometry.colors is not None:
        alpha = np.rint(geometry.colors[:, 3] * 255).astype(np.uint8)
        colors = np.column_stack([linear_to_srgb8(geometry.colors[:, :3]), alpha])
    mesh = trimesh.Trimesh(geometry.vertices, geometry.faces, vertex_colors=colors, process=False)
    return trimesh.exchange.ply.export_ply(mesh, encoding="binary", include_attributes=False)


def encode_rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a (H, W) bool mask: ``{"size": [H, W], "counts": str}``.

    Fortran-ordered masks (as ``LabelDeriver`` makes them) are encoded without a copy.
    """
    as_bytes = mask.view(np.uint8) if mask.dtype == bool and mask.flags.f_contiguous else mask
    rle = mask_utils.encode(np.asfortranarray(as_bytes, dtype=np.uint8))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    """(H, W) bool mask of a COCO compressed RLE as written by ``encode_rle``."""
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def json_array(array: np.ndarray) -> list:
    """Nested lists of floats for JSON, with NaN (JSON has none) written as null."""
    values = np.asarray(array, dtype=np.float64)
    if np.isfinite(values).all():
        return values.tolist()
    return np.where(np.isfinite(values), values, None).tolist()


def array_from_json(value) -> np.ndarray:
    """Float64 array of JSON lists written by ``json_array`` (null back to NaN)."""
    def restore(item):
        if isinstance(item, list):
            return [restore(x) for x in item]
        return np.nan if item is None else item

    return np.asarray(restore(value), dtype=np.float64)


def cuboid_from_record(record: dict) -> Cuboid:
    """A ``Cuboid`` of its record form (nested lists; null or NaN for a corner behind the camera)."""
    return Cuboid(*(array_from_json(record[key]) for key in _CUBOID_FIELDS))


def cuboid_to_record(cuboid: Cuboid) -> dict:
    """A cuboid's record form: its fields as nested lists, NaN written as null (JSON has no NaN)."""
    return {key: json_array(getattr(cuboid, key)) for key in _CUBOID_FIELDS}


def _instance_record(instance: Instance, tracked: bool = False) -> dict:
    segmentation = encode_rle(instance.mask)
    # Unoccluded objects have amodal == visible; comparing is ~6x cheaper than encoding. Compared,
    # not inferred from the areas: quarantined samples failed the checks that would justify that.
    same = instance.amodal_area == instance.area and np.array_equal(instance.amodal_mask, instance.mask)
    amodal = segmentation if same else encode_rle(instance.amodal_mask)
    return {
        "instance_id": instance.instance_id,
        "category_id": instance.category_id,
        "category": instance.category,
        "bbox": json_array(instance.bbox),
        "amodal_bbox": json_array(instance.amodal_bbox),
        "area": instance.area,
        "amodal_area": instance.amodal_area,
        "occlusion": instance.occlusion,
        "truncation": instance.truncation,
        "keypoints": json_array(instance.keypoints),
        "cuboid": cuboid_to_record(instance.cuboid),
        "pose": json_array(instance.pose),
        "model": instance.model,
        "scale": instance.scale,
        "segmentation": segmentation,
        "amodal_segmentation": amodal,
        **({"track_id": instance.instance_id} if tracked else {}),
    }


def _sequence_fields(sample: Sample) -> dict:
    frame = sample.frame
    return {
        "frame": {"clip": frame.clip, "frame": frame.frame, "frames": frame.frames, "fps": frame.fps,
                  "time": frame.time},
        "tracks": [
            {"track_id": track.track_id, "category_id": track.category_id, "category": track.category,
             "state": track.state, "visibility": track.visibility, "amodal_bbox": json_array(track.amodal_bbox),
             "position": json_array(track.position), "velocity": json_array(track.velocity)}
            for track in sample.tracks
        ],
    }


def _instance_from_record(item: dict, ids: np.ndarray) -> Instance:
    return Instance(
        instance_id=item["instance_id"],
        category_id=item["category_id"],
        category=item["category"],
        mask=ids == item["instance_id"],
        amodal_mask=decode_rle(item["amodal_segmentation"]),
        bbox=array_from_json(item["bbox"]),
        amodal_bbox=array_from_json(item["amodal_bbox"]),
        area=item["area"],
        amodal_area=item["amodal_area"],
        occlusion=item["occlusion"],
        truncation=item["truncation"],
        keypoints=array_from_json(item["keypoints"]).reshape(-1, 3),
        cuboid=cuboid_from_record(item["cuboid"]),
        pose=array_from_json(item["pose"]),
        model=item.get("model", ""),
        scale=item.get("scale", 1.0),
    )


def _camera_record(camera: Camera) -> dict:
    record = {"K": json_array(camera.K), "world_to_camera": json_array(camera.world_to_camera)}
    if camera.has_distortion:  # OpenCV order k1, k2, p1, p2, k3, with the same K
        record["distortion"] = json_array(camera.distortion)
    return record


def sample_record(sample: Sample, files: dict[str, str], depth_unit_m: float) -> dict:
    """The label record of a sample whose arrays were written to ``files`` (relative paths)."""
    height, width = sample.instance_ids.shape
    return {
        "format": RECORD_FORMAT,
        "index": sample.index,
        "width": width,
        "height": height,
        "files": files,
        "depth_unit_m": depth_unit_m,
        "camera": _camera_record(sample.camera),
        "instances": [_instance_record(instance, sample.frame is not None) for instance in sample.instances],
        "dropped_instance_ids": list(sample.dropped_instance_ids),
        "polylines": [
            {"category_id": line.category_id, "category": line.category, "points": json_array(line.points)}
            for line in sample.polylines
        ],
        "augmentations": list(sample.augmentations),
        **(_sequence_fields(sample) if sample.frame is not None else {}),
        **({"generation": sample.generation} if sample.generation is not None else {}),
        **({"lidar": lidar_record(sample.lidar, len(sample.lidar.points))} if sample.lidar is not None else {}),
    }


def lidar_record(sweep: LidarSweep | LidarFrame, points: int) -> dict:
    """A sweep's labels as the record's ``lidar`` entry (``points`` of them): extrinsics, ego pose,
    timing and boxes; a stored sweep (``LidarFrame``) gives the same entry back."""
    return {
        "points": points, "lidar_to_camera": json_array(sweep.lidar_to_camera),
        "lidar_to_world": json_array(sweep.lidar_to_world), "start_s": sweep.start_s, "duration_s": sweep.duration_s,
        "boxes": [{"instance_id": box.instance_id, "category_id": box.category_id, "category": box.category,
                   "center": json_array(box.center), "dimensions": json_array(box.dimensions),
                   "rotation": json_array(box.rotation), "yaw": box.yaw, "num_points": box.num_points,
                   "visibility": box.visibility, "visibility_level": box.visibility_level} for box in sweep.boxes],
    }


def _lidar_box(item, names: dict[int, str], where: str) -> LidarBox:
    mapping(item, where)
    category_id = field(item, "category_id", where, integer)
    if category_id not in names:
        raise InputError(f"{where}: category_id {category_id} is not a category of the store's manifest")
    return LidarBox(field(item, "instance_id", where, integer, 1), category_id, names[category_id],
                    field(item, "center", where, matrix, (3,)), field(item, "dimensions", where, matrix, (3,)),
                    field(item, "rotation", where, matrix, (3, 3)), field(item, "yaw", where, number),
                    field(item, "num_points", where, integer, 0), field(item, "visibility", where, number, 0, 1),
                    field(item, "visibility_level", where, integer, 0, 4))


def _lidar_frame(record: dict, path: Path | None, names: dict[int, str], where: str) -> LidarFrame | None:
    lidar = record.get("lidar")
    if lidar is None:
        return None
    where = f"{where}: 'lidar'"
    mapping(lidar, where)
    if path is None:
        raise InputError(f"{where}: the record has a sweep but names no files.lidar; re-run generate")
    return LidarFrame(path, field(lidar, "points", where, integer, 0), field(lidar, "lidar_to_camera", where, matrix, (4, 4)),
                      field(lidar, "lidar_to_world", where, matrix, (4, 4)), field(lidar, "start_s", where, number),
                      field(lidar, "duration_s", where, number, 0),
                      [_lidar_box(box, names, f"{where}: boxes[{k}]")
                       for k, box in enumerate(field(lidar, "boxes", where, listing))])


def sample_from_record(record: dict, image: np.ndarray, depth: np.ndarray, instance_ids: np.ndarray,
                       categories: tuple[CategoryInfo, ...], flow_forward: FlowField | None = None,
                       flow_backward: FlowField | None = None, lidar: LidarSweep | None = None) -> Sample:
    """The ``Sample`` of a record and its decoded arrays (the inverse of ``sample_record``).

    Args:
        record: The label record.
        image: (H, W, 3) uint8 RGB.
        depth: (H, W) float32 metres.
        instance_ids: (H, W) int32 visible instance ids (the visible masks come from it).
        categories: The dataset's categories (from its manifest).
        flow_forward: Sequences: the flow to the next frame, if stored.
        flow_backward: Sequences: the flow to the previous frame, if stored.
        lidar: The sample's sweep, if stored.
    """
    camera = Camera(np.array(record["camera"]["K"]), np.array(record["camera"]["world_to_camera"]),
                    record["width"], record["height"], np.array(record["camera"].get("distortion", np.zeros(5))))
    instances = [_instance_from_record(item, instance_ids) for item in record["instances"]]
    polylines = [
        PolylineLabel(line["category_id"], line["category"], array_from_json(line["points"]).reshape(-1, 3))
        for line in record.get("polylines", [])
    ]
    frame = record.get("frame")
    tracks = [Track(t["track_id"], t["category_id"], t["category"], t["state"], t["visibility"],
                    array_from_json(t["amodal_bbox"]), array_from_json(t["position"]), array_from_json(t["velocity"]))
              for t in record.get("tracks", [])]
    return Sample(record["index"], image, depth, instance_ids, camera, instances, categories,
                  tuple(record["dropped_instance_ids"]), polylines, tuple(record.get("augmentations", [])),
                  frame=FrameInfo(frame["clip"], frame["frame"], frame["frames"], frame["fps"]) if frame else None,
                  tracks=tracks, flow_forward=flow_forward, flow_backward=flow_backward,
                  generation=record.get("generation"), lidar=lidar)


def labeled_object(item, image: LabeledImage, categories: set[int], where: str) -> LabeledObject:
    """A record's instance as a format-neutral ``LabeledObject``, every field checked
    (``synthgen.io.input_checks``): a hand-edited or damaged record is one InputError."""
    mapping(item, where)
    width, height = image.width, image.height
    category_id = field(item, "category_id", where, integer)
    if category_id not in categories:
        raise InputError(f"{where}: category_id {category_id} is not a category of the store's manifest")
    bbox = field(item, "bbox", where, numbers, length=4)
    check_box(bbox, width, height, f"{where}: 'bbox'")
    points = field(item, "keypoints", where, _keypoint_rows)
    # Records write every NaN as null, so any cuboid field may hold one (as read before).
    cuboid = field(item, "cuboid", where, cuboid_record, _CUBOID_FIELDS)
    pose = field(item, "pose", where, matrix, (4, 4), True)
    segmentation = field(item, "segmentation", where, rle_of, width, height)
    # Unoccluded objects share one RLE (the writer stores it twice): checked once.
    amodal_segmentation = (segmentation if item.get("amodal_segmentation") == item["segmentation"]
                           else field(item, "amodal_segmentation", where, rle_of, width, height))
    has_3d = not np.isnan(pose).all()  # no 3D labels (a pasted object): none passed on to formats
    return LabeledObject(
        category_id=category_id,
        bbox=bbox,
        segmentation=segmentation,
        keypoints=checked_keypoints(points, width, height, f"{where}: 'keypoints'"),
        area=field(item, "area", where, number, 0),
        amodal_bbox=field(item, "amodal_bbox", where, numbers, length=4),
        amodal_segmentation=amodal_segmentation,
        amodal_area=field(item, "amodal_area", where, number, 0),
        occlusion=field(item, "occlusion", where, number, 0, 1),
        truncation=field(item, "truncation", where, number, 0, 1),
        cuboid=cuboid_from_record(cuboid) if has_3d else None,
        pose=pose if has_3d else None,
        instance_id=field(item, "instance_id", where, integer, 1),
        track_id=field(item, "track_id", where, integer, 0) if "track_id" in item else None,
        model=(field(item, "model", where, lambda value, at: value if isinstance(value, str) else text(value, at))
               if "model" in item else None),
        scale=field(item, "scale", where, number, 0) if "scale" in item else None,
    )


def _keypoint_rows(value, where: str) -> np.ndarray:
    return matrix(value, where, (len(value) if isinstance(value, list) else -1, 3), allow_null=True)


def labeled_image(root: Path, record, categories: tuple[CategoryInfo, ...], where: str,
                  files_on_disk: bool = True) -> LabeledImage:
    """A record of the store at ``root`` as a format-neutral ``LabeledImage``.

    Every field is checked as any reader checks its input: file names stay inside the store
    (symlinks resolved), the image's header matches the recorded size, labels are finite
    and inside the image, categories are the manifest's.

    Args:
        root: The store folder.
        record: The parsed ``labels/NNNNNN.json``.
        categories: The manifest's categories.
        where: Names the record in error messages (its path).
        files_on_disk: Whether the files it names are loose in ``root`` (checked to be
            there, inside it, of the recorded size); False for a record whose files are
            elsewhere (a tar shard, a sample in memory): its ``path`` is then only a name.

    Raises:
        InputError: A malformed or inconsistent record.
    """
    mapping(record, where)
    files = field(record, "files", where, mapping)
    for key in ("image", "depth", "instance_ids"):
        field(files, key, f"{where}: 'files'", text)
    declared = (field(record, "width", where, integer, 1), field(record, "height", where, integer, 1))
    if files_on_disk:
        for key, relative in files.items():  # flow and occlusion maps too: nothing named may leave the store
            if key != "image":  # image_file checks the image's
                dataset_path(root, relative, f"{where}: files.{key}")
        image_path = image_file(root, files["image"], f"{where}: files.image", declared).path
    else:
        image_path = Path(root) / files["image"]
    camera = field(record, "camera", where, mapping)
    image = LabeledImage(
        index=field(record, "index", where, integer, 0),
        path=image_path,
        width=declared[0],
        height=declared[1],
        camera=camera_record(camera, f"{where}: 'camera'"),
        depth_file=files["depth"],
        depth_unit_m=field(record, "depth_unit_m", where, number, 0),
        instance_ids_file=files["instance_ids"],
        frame=_frame(record.get("frame"), f"{where}: 'frame'"),
        tracks=[_track(track, f"{where}: tracks[{k}]")
                for k, track in enumerate(field(record, "tracks", where, listing, default=[]))],
    )
    # No folder name here: the same dataset written anywhere has the same bytes.
    image.source = {"kind": "synthetic", "original_id": image.index}
    ids = {c.id for c in categories}
    image.objects = [labeled_object(item, image, ids, f"{where}: instances[{k}]")
                     for k, item in enumerate(field(record, "instances", where, listing))]
    names = {c.id: c.name for c in categories}
    image.polylines = [_polyline(line, image, names, f"{where}: polylines[{k}]")
                       for k, line in enumerate(field(record, "polylines", where, listing, default=[]))]
    lidar_file = files.get("lidar")
    image.lidar = _lidar_frame(record, Path(root) / lidar_file if isinstance(lidar_file, str) else None, names, where)
    return image


def _polyline(line, image: LabeledImage, names: dict[int, str], where: str) -> PolylineLabel:
    mapping(line, where)
    category_id = field(line, "category_id", where, integer)
    if category_id not in names:
        raise InputError(f"{where}: category_id {category_id} is not a category of the store's manifest")
    points = field(line, "points", where, _keypoint_rows)
    return PolylineLabel(category_id, names[category_id],
                         checked_keypoints(points, image.width, image.height, f"{where}: 'points'"))


def _frame(frame, where: str) -> FrameInfo | None:
    if frame is None:
        return None
    mapping(frame, where)
    info = FrameInfo(field(frame, "clip", where, integer, 0), field(frame, "frame", where, integer, 0),
                     field(frame, "frames", where, integer, 1), field(frame, "fps", where, number, 0))
    if info.fps == 0 or info.frame >= info.frames:
        raise InputError(f"{where}: frame {info.frame} of {info.frames} at {info.fps} fps is not a frame of a clip")
    return info


def _track(track, where: str) -> Track:
    mapping(track, where)
    state = field(track, "state", where, text)
    if state not in TRACK_STATES:
        raise InputError(f"{where}: 'state' must be one of {list(TRACK_STATES)}, got {state!r}")
    return Track(field(track, "track_id", where, integer, 0), field(track, "category_id", where, integer),
                 field(track, "category", where, text), state, field(track, "visibility", where, number, 0, 1),
                 field(track, "amodal_bbox", where, matrix, (4,), True), field(track, "position", where, matrix, (3,), True),
                 field(track, "velocity", where, matrix, (3,), True))


def record_files(root: Path, record: dict) -> list[Path]:
    """Every file a committed record names (image, depth, id maps, flow), under ``root``.

    Raises:
        InputError: A name that leaves the store (absolute, ``..``, a symlink out of it).
    """
    where = f"{root}: record {record.get('index')!r}"
    files = mapping(record.get("files", {}), f"{where}: 'files'")
    return [dataset_path(root, relative, f"{where}: files.{key}") for key, relative in files.items()]
