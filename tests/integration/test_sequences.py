"""Sequences end to end: real renders in motion, stable tracks, exact flow, tracking exports."""

import configparser
import dataclasses
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from PIL import Image
from pycocotools.coco import COCO

from synthgen.commands.generate import generate
from synthgen.commands.preview import preview
from synthgen.core.errors import ConfigError, InputError
from synthgen.io.flow_files import read_kitti_flow
from synthgen.io.mot import read_mot
from synthgen.io.store import iter_records, read_sample
from synthgen.labels.derive import LabelDeriver
from synthgen.labels.tracks import add_sequence_labels
from synthgen.paths import conf_dir
from synthgen.pipeline.motion import LinearPath, Trajectory
from synthgen.pipeline.sequence import Clip, SequenceSettings
from tests.conftest import camera_at, cube, spec_of, translation
from tests.resources import FRUITS

FRAMES, CLIPS = 6, 2
RUN = ("render.width=128", "render.height=96", "progress=false", "scene.placement.count=[4,6]")


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="generate", overrides=list(overrides))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "exports" not in p.parts}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Two 6-frame clips: curved object paths, orbiting camera, every sequence export."""
    out = tmp_path_factory.mktemp("seq") / "ds"
    generate(_compose(*RUN, f"out={out}", f"n={CLIPS}", f"sequence.frames={FRAMES}", "sequence.fps=10",
                      "motion=spline", "motion.camera_orbit_deg=[20,30]", "motion.step=[0.04,0.08]",
                      "export=[coco,mot,cvat]"))
    return out


def _warp_error(image_t, image_next, flow, mask) -> float:
    height, width = flow.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    warped = cv2.remap(image_next, cols + np.nan_to_num(flow[..., 0]), rows + np.nan_to_num(flow[..., 1]),
                       cv2.INTER_LINEAR)
    return float(np.abs(warped.astype(int) - image_t.astype(int))[mask].mean())


def _away_from_edges(ids: np.ndarray) -> np.ndarray:
    edges = cv2.Canny((ids * 37 % 256).astype(np.uint8), 10, 30)
    return cv2.dilate(edges, np.ones((5, 5))) == 0


def test_clips_have_frames_tracks_and_flow_files(clips):
    records = list(iter_records(clips))
    assert len(records) == CLIPS * FRAMES
    for record in records:
        clip, frame = divmod(record["index"], FRAMES)
        assert record["frame"] == {"clip": clip, "frame": frame, "frames": FRAMES, "fps": 10.0, "time": frame / 10}
        assert ("flow_forward" in record["files"]) == (frame < FRAMES - 1)
        assert ("flow_backward" in record["files"]) == (frame > 0)
        labeled = {item["track_id"] for item in record["instances"]}
        states = {track["track_id"]: track["state"] for track in record["tracks"]}
        assert labeled == {k for k, state in states.items() if state == "visible"}
    # The same tracks (ids and categories) in every frame of a clip.
    for clip in range(CLIPS):
        per_frame = [{(t["track_id"], t["category_id"]) for t in r["tracks"]} for r in records[clip * FRAMES:(clip + 1) * FRAMES]]
        assert all(tracks == per_frame[0] for tracks in per_frame) and len(per_frame[0]) >= 4
    # Things really move: the camera orbits (20-30 deg/s) and objects follow their paths.
    first, last = records[0]["camera"]["world_to_camera"], records[FRAMES - 1]["camera"]["world_to_camera"]
    assert not np.allclose(first, last, atol=1e-3)


def test_warping_the_next_frame_with_the_exported_flow_reproduces_this_frame(clips):
    errors, zero_errors, moving_errors = [], [], []
    for index in range(FRAMES - 1):
        sample, following = read_sample(clips, index), read_sample(clips, index + 1)
        field = sample.flow_forward
        mask = np.isfinite(field.flow).all(axis=-1) & ~field.occluded & _away_from_edges(sample.instance_ids)
        errors.append(_warp_error(sample.image, following.image, field.flow, mask))
        zero_errors.append(_warp_error(sample.image, following.image, np.zeros_like(field.flow), mask))
        moving_errors.append(_warp_error(sample.image, following.image, field.flow, mask & (sample.instance_ids > 0)))
        # Backward flow of the next frame is the same motion the other way.
        back = following.flow_backward
        assert np.isfinite(back.flow).mean() > 0.5 and back.occluded.mean() < 0.3
    assert np.mean(errors) < 3.0, errors
    assert np.mean(zero_errors) > 3 * np.mean(errors), (zero_errors, errors)
    assert np.mean(moving_errors) < 6.0, moving_errors


def test_forward_then_backward_flow_returns_to_the_start(clips):
    sample, following = read_sample(clips, 2), read_sample(clips, 3)
    forward, backward = sample.flow_forward, following.flow_backward
    height, width = forward.flow.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    # Sample the backward flow where each pixel lands (nearest: flow is piecewise smooth).
    target_u = np.clip(np.round(cols + 0.5 + np.nan_to_num(forward.flow[..., 0]) - 0.5), 0, width - 1).astype(int)
    target_v = np.clip(np.round(rows + 0.5 + np.nan_to_num(forward.flow[..., 1]) - 0.5), 0, height - 1).astype(int)
    round_trip = forward.flow + backward.flow[target_v, target_u]
    mask = np.isfinite(round_trip).all(axis=-1) & ~forward.occluded & _away_from_edges(sample.instance_ids)
    # Off by at most the half pixel of nearest sampling times the flow's local change.
    assert mask.mean() > 0.5 and np.median(np.abs(round_trip[mask])) < 0.05
    assert np.abs(forward.flow[mask]).max() > 1.0  # a real motion, not zero


def test_track_velocity_is_the_derivative_of_its_position(tmp_path):
    out = tmp_path / "fast"
    generate(_compose(*RUN, "render.width=64", "render.height=48", f"out={out}", "n=1", "sequence.frames=5",
                      "sequence.fps=500", "sequence.flow=false", "motion.speed=[0.1,0.2]", "motion.camera_orbit_deg=[20,30]"))
    records = list(iter_records(out))
    dt = 1 / 500
    for track in range(len(records[0]["tracks"])):
        positions = np.array([r["tracks"][track]["position"] for r in records])
        velocities = np.array([r["tracks"][track]["velocity"] for r in records])
        central = (positions[2:] - positions[:-2]) / (2 * dt)
        np.testing.assert_allclose(central, velocities[1:-1], atol=1e-3 + 0.01 * np.abs(velocities).max())
    assert max(np.linalg.norm(t["velocity"]) for t in records[2]["tracks"]) > 0.1
    assert not any("flow_forward" in r["files"] for r in records)  # sequence.flow=false


def test_coco_video_fields_load_with_pycocotools(clips):
    coco = COCO(str(clips / "annotations" / "instances.json"))
    assert [v["id"] for v in coco.dataset["videos"]] == [1, 2]
    assert all(v["length"] == FRAMES and v["fps"] == 10.0 for v in coco.dataset["videos"])
    for image in coco.imgs.values():
        assert (image["video_id"] - 1, image["frame_id"]) == divmod(image["synthgen_index"], FRAMES)
    tracks = {t["id"]: t for t in coco.dataset["tracks"]}
    for annotation in coco.anns.values():
        track = tracks[annotation["track_id"]]
        assert annotation["instance_id"] == annotation["track_id"]
        assert track["video_id"] == annotation["video_id"] == coco.imgs[annotation["image_id"]]["video_id"]
        assert track["category_id"] == annotation["category_id"]
    # One track id per (clip, object); never shared between clips.
    assert len({(t["video_id"], t["synthgen_track_id"]) for t in tracks.values()}) == len(tracks)


def test_mot_gt_parses_back_to_the_stored_tracks(clips):
    records = list(iter_records(clips))
    for clip in range(CLIPS):
        folder = clips / "exports" / "mot" / f"clip_{clip:06d}"
        info = configparser.ConfigParser()
        info.read(folder / "seqinfo.ini")
        assert info["Sequence"].getint("seqLength") == FRAMES and info["Sequence"].getint("imWidth") == 128
        assert sorted(p.name for p in (folder / "img1").iterdir()) == [f"{f:06d}.png" for f in range(1, FRAMES + 1)]
        rows = read_mot(folder / "gt" / "gt.txt")
        expected = {(r["frame"]["frame"] + 1, t["track_id"]): t for r in records if r["frame"]["clip"] == clip
                    for t in r["tracks"] if t["state"] != "out_of_view"}
        assert {(row["frame"], row["id"]) for row in rows} == set(expected)
        for row in rows:
            track = expected[(row["frame"], row["id"])]
            x0, y0, x1, y1 = track["amodal_bbox"]
            assert (row["bb_left"], row["bb_top"], row["bb_width"], row["bb_height"]) == pytest.approx(
                (x0 + 1, y0 + 1, x1 - x0, y1 - y0), abs=0.006)  # MOTChallenge boxes are 1-based
            assert row["class"] == track["category_id"] and row["visibility"] == pytest.approx(track["visibility"], abs=1e-4)
    # The MOTChallenge ecosystem's reader sees the same rows.
    import motmetrics

    loaded = motmetrics.io.loadtxt(str(clips / "exports" / "mot" / "clip_000000" / "gt" / "gt.txt"), fmt="mot16")
    rows = read_mot(clips / "exports" / "mot" / "clip_000000" / "gt" / "gt.txt")
    assert list(loaded.index) == [(row["frame"], row["id"]) for row in rows]
    np.testing.assert_allclose(loaded[["X", "Y", "Width", "Height", "Visibility"]].to_numpy(),
                               [[r["bb_left"] - 1, r["bb_top"] - 1, r["bb_width"], r["bb_height"], r["visibility"]]
                                for r in rows])  # 0-based again, as the COCO boxes
    with pytest.raises(InputError, match=":1: expected 9"):
        bad = clips.parent / "bad_gt.txt"
        bad.write_text("1,2,3\n")
        read_mot(bad)


def test_cvat_video_xml_has_one_keyframed_box_track_per_object(clips):
    records = [r for r in iter_records(clips) if r["frame"]["clip"] == 0]
    root = ElementTree.parse(clips / "exports" / "cvat" / "clip_000000" / "annotations.xml").getroot()
    assert root.findtext("version") == "1.1" and root.find("meta/task/mode").text == "interpolation"
    labels = {label.findtext("name") for label in root.iter("label")}
    tracks = root.findall("track")
    assert len(tracks) == len(records[0]["tracks"])
    for element, stored in zip(tracks, zip(*(r["tracks"] for r in records))):
        assert element.get("label") in labels and element.get("label") == stored[0]["category"]
        boxes = {int(box.get("frame")): box for box in element.findall("box")}
        for frame, track in enumerate(stored):
            if track["state"] == "out_of_view":
                assert frame not in boxes or boxes[frame].get("outside") == "1"
                continue
            box = boxes[frame]
            assert box.get("outside") == "0" and box.get("keyframe") == "1"
            assert [float(box.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")] == pytest.approx(track["amodal_bbox"], abs=0.006)
    assert len(list((clips / "exports" / "cvat" / "clip_000000" / "images").iterdir())) == FRAMES


def test_cvat_polygon_tracks_outline_the_visible_masks(clips, tmp_path):
    from matplotlib.path import Path
    from scipy.ndimage import binary_fill_holes

    from synthgen.io.cvat import CvatVideoExporter
    from synthgen.io.dataset import clips_of
    from synthgen.io.record import decode_rle
    from synthgen.io.store import open_store

    out = tmp_path / "cvat"
    out.mkdir()
    CvatVideoExporter(shapes="both").export_to(clips, out)
    root = ElementTree.parse(out / "clip_000000" / "annotations.xml").getroot()
    frames = clips_of(open_store(clips))[0]
    tracks = root.findall("track")
    boxes, polygons = tracks[:len(tracks) // 2], tracks[len(tracks) // 2:]
    assert len(boxes) == len(polygons) and all(t.find("polygon") is not None for t in polygons)
    for track_number, element in enumerate(polygons):
        track_id = sorted(t.track_id for t in frames[0].tracks)[track_number]
        for shape in element.findall("polygon"):
            image = frames[int(shape.get("frame"))]
            labeled = {obj.track_id: obj for obj in image.objects}
            assert (shape.get("outside") == "0") == (track_id in labeled)
            if track_id not in labeled:
                continue
            points = np.array([[float(v) for v in p.split(",")] for p in shape.get("points").split(";")])
            mask = binary_fill_holes(decode_rle(labeled[track_id].segmentation))  # an outline has no holes
            rows, cols = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
            centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
            filled = Path(points).contains_points(centres).reshape(mask.shape)
            overlap = (filled & mask).sum() / max((filled | mask).sum(), 1)
            assert overlap > 0.8 and len(points) < 4 * mask.sum() ** 0.5 + 8  # close to the mask, and editable


def test_preview_animates_each_clip_with_track_ids(clips, tmp_path):
    out = preview({"in": str(clips), "out": str(tmp_path / "p"), "format": "auto", "n": 2, "columns": 2, "size": 64,
                   "masks": True, "cuboids": False, "overwrite": False, "clips": 2, "animation": "gif"})
    for clip in range(CLIPS):
        gif = Image.open(out / f"clip_{clip:06d}.gif")
        assert gif.n_frames == FRAMES and gif.size == (128, 96)
        assert gif.info["duration"] == 100
    preview({"in": str(clips), "out": str(tmp_path / "m"), "format": "auto", "n": 1, "columns": 1, "size": 64,
             "masks": False, "cuboids": False, "overwrite": False, "clips": 1, "animation": "mp4"})
    video = cv2.VideoCapture(str(tmp_path / "m" / "clip_000000.mp4"))
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == FRAMES


def test_static_scene_and_camera_have_zero_flow_and_velocity(tmp_path):
    out = tmp_path / "static"
    generate(_compose(*RUN, f"out={out}", "n=1", "sequence.frames=3", "motion=static", "sequence.flow_format=kitti_png"))
    sample = read_sample(out, 1)
    for field in (sample.flow_forward, sample.flow_backward):
        valid = np.isfinite(field.flow).all(axis=-1)
        assert valid.mean() > 0.3 and np.abs(field.flow[valid]).max() <= 1 / 64 and not field.occluded.any()
    assert all(np.abs(track.velocity).max() < 1e-6 for track in sample.tracks)
    record = json.loads((out / "labels" / "000001.json").read_text())
    assert record["files"]["flow_forward"].endswith(".png")
    assert np.array_equal(np.isnan(read_kitti_flow(out / record["files"]["flow_forward"])), np.isnan(sample.flow_forward.flow))


def test_same_bytes_for_any_worker_count_and_after_resuming_mid_clip(tmp_path):
    common = (*RUN, "render.width=64", "render.height=48", "n=2", "sequence.frames=4", "motion=crossing",
              "export=[coco,mot]")
    generate(_compose(*common, f"out={tmp_path / 'one'}"))
    generate(_compose(*common, f"out={tmp_path / 'two'}", "workers=2"))
    reference = _files(tmp_path / "one")
    assert _files(tmp_path / "two") == reference
    assert (tmp_path / "one" / "exports" / "mot" / "clip_000001" / "gt" / "gt.txt").read_bytes() == (
        tmp_path / "two" / "exports" / "mot" / "clip_000001" / "gt" / "gt.txt").read_bytes()
    # Lose frames 1-2 of clip 0 (as a killed run would): resuming re-renders their neighbours' depth.
    for name in ("000001", "000002"):
        (tmp_path / "one" / "labels" / f"{name}.json").unlink()
    summary = generate(_compose(*common, f"out={tmp_path / 'one'}", "resume=true"))
    assert summary.rendered == 2 and summary.skipped == 6
    assert _files(tmp_path / "one") == reference


def test_a_track_keeps_its_id_while_hidden_and_out_of_view(renderer_96x72):
    """A small cube passes behind a big one and leaves the view: one id, every state."""
    camera = camera_at([0.0, -1.0, 0.1], [0.0, 0.0, 0.05], size=(96, 72))
    front, back = cube(1, translation(0.0, -0.3, 0.06), edge=0.12), cube(2, translation(0.0, 0.2, 0.03), edge=0.06)
    spec = spec_of(camera, front, back)
    trajectory = Trajectory({2: LinearPath(np.array([0.9, 0.0, 0.0]), 0.0, reference_time=1.0)}, 0.0, np.zeros(3))
    clip = Clip(0, spec, trajectory, SequenceSettings(frames=9, fps=4.0))
    deriver = LabelDeriver(min_visible_pixels=5)
    states = []
    for frame in range(9):
        frame_spec = clip.frame_spec(frame)
        render = renderer_96x72.render(frame_spec)
        sample = add_sequence_labels(deriver(render, frame_spec, frame), render, clip, frame, flow=False,
                                     previous_depth=None, next_depth=None)
        assert [t.track_id for t in sample.tracks] == [1, 2]
        track = sample.tracks[1]
        states.append(track.state)
        if track.state == "occluded":
            assert track.visibility == 0 and track.amodal_bbox[2] > track.amodal_bbox[0]
            assert 2 not in {i.instance_id for i in sample.instances}
        assert track.velocity == pytest.approx([0.9, 0.0, 0.0], abs=1e-6)  # static camera: world velocity
    assert states[0] == states[-1] == "out_of_view"
    assert states[4] == "occluded" and "visible" in states[1:4] and "visible" in states[5:8], states


@pytest.fixture(scope="module")
def renderer_96x72():
    from synthgen.render.pyrender_backend import PyrenderRenderer

    return PyrenderRenderer(96, 72)


def test_sequence_config_errors_name_the_key_and_write_nothing(tmp_path):
    cases = [
        (("sequence.frames=0",), "sequence.frames"),
        (("+sequence.colour=1",), "sequence.colour: unknown key"),
        (("sequence.flow_format=exr",), "sequence.flow_format"),
        (("sequence.frames=4", "augment=default"), "augment: 2D augmentation is not supported"),
        (("sequence.frames=4", "motion.speed=[0.2,0.1]"), "speed: min must not exceed max"),
        (("sequence.frames=4", "motion=spline", "motion.keyframes=1"), "keyframes"),
    ]
    for overrides, message in cases:
        out = tmp_path / "never"
        with pytest.raises(ConfigError, match=message):
            generate(_compose(*RUN, f"out={out}", *overrides))
        assert not out.exists()


def test_tracking_exports_refuse_still_image_datasets(tmp_path):
    from synthgen.io.cvat import CvatVideoExporter
    from synthgen.io.mot import MotExporter

    out = tmp_path / "stills"
    generate(_compose(*RUN, f"out={out}", "n=1"))
    for exporter in (MotExporter(), CvatVideoExporter()):
        with pytest.raises(InputError, match="sequence.frames > 1"):
            exporter(out)
    assert dataclasses.is_dataclass(read_sample(out, 0)) and read_sample(out, 0).frame is None


def test_self_checks_pass_real_frames_and_catch_inconsistent_tracks(clips):
    from synthgen.labels.checks import check_sample

    sample = read_sample(clips, 3)
    assert check_sample(sample) == []
    visible = next(t for t in sample.tracks if t.state == "visible")
    broken = dataclasses.replace(sample, tracks=[dataclasses.replace(t, state="occluded") if t is visible else t
                                                 for t in sample.tracks])
    problems = check_sample(broken)
    assert any("differ from labeled instances" in p for p in problems)
    assert any(f"track {visible.track_id}: state occluded" in p for p in problems)
    short = dataclasses.replace(sample, flow_forward=dataclasses.replace(sample.flow_forward,
                                                                         flow=sample.flow_forward.flow[:-1]))
    assert any("flow_forward" in p for p in check_sample(short))


def test_shards_split_by_clip_and_merge_to_the_same_dataset(tmp_path):
    from synthgen.commands.merge import merge_shards

    common = (*RUN, "render.width=64", "render.height=48", "n=3", "sequence.frames=3")
    generate(_compose(*common, f"out={tmp_path / 'whole'}"))
    for shard in (0, 1):
        summary = generate(_compose(*common, f"out={tmp_path / f'shard{shard}'}", f"shard={shard}", "num_shards=2"))
        assert summary.images == (6 if shard == 0 else 3)
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="merge", overrides=[f"in=[{tmp_path / 'shard0'},{tmp_path / 'shard1'}]",
                                                       f"out={tmp_path / 'merged'}"])
    merged = merge_shards(cfg)
    whole = _files(tmp_path / "whole")
    assert {k: v for k, v in _files(merged).items() if k != "manifest.json"} == {
        k: v for k, v in whole.items() if k != "manifest.json"}




@pytest.mark.realdata
def test_clips_mixed_with_real_photos_keep_video_fields_only_on_frames(clips, tmp_path):
    from synthgen.commands.mix import mix

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="mix", overrides=[f"synthetic=[{clips}]", f"real=[{FRUITS}]", "unmatched=merge",
                                                    f"out={tmp_path / 'mixed'}", "test_fraction=0.25"])
    out = mix(cfg)
    coco = COCO(str(out / "annotations" / "instances_train.json"))
    frames = [image for image in coco.imgs.values() if "video_id" in image]
    assert len(frames) == CLIPS * FRAMES and len(coco.imgs) > len(frames)  # the photos have none
    assert sorted(v["name"] for v in coco.dataset["videos"]) == [f"{clips.name}/clip_{c:06d}" for c in range(CLIPS)]
    for annotation in coco.anns.values():
        assert ("track_id" in annotation) == ("video_id" in coco.imgs[annotation["image_id"]])
