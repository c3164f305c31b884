"""LiDAR through generate: stores, determinism, camera consistency, the exports read back by their
own tools (Open3D, pypcd4, pykitti), preview, refusals, and a real LiDAR odometry (kiss-icp)."""

import tarfile

import numpy as np
import pytest

from synthgen.core.errors import ConfigError
from synthgen.core.lidar import surface_class_id
from synthgen.io.point_files import read_pcd
from synthgen.io.store import read_sample
from tests.helpers import stores_by_worker_count

ROAD = ("scene=road", "lidar=hdl64", "lidar.columns=512", "render.width=160", "render.height=120", "progress=false")
DRIVE = ("motion=driving", "sequence.frames=4", "sequence.fps=10", "sequence.flow=false")


@pytest.fixture(scope="module")
def road_store(tmp_path_factory):
    from synthgen.api import generate

    out = tmp_path_factory.mktemp("lidar") / "road"
    generate(out=str(out), n=2, seed=1, overrides=[*ROAD, "export=[kitti,pointcloud]"])
    return out


@pytest.fixture(scope="module")
def drive_store(tmp_path_factory):
    from synthgen.api import generate

    out = tmp_path_factory.mktemp("lidar") / "drive"
    generate(out=str(out), n=1, seed=2, overrides=[*ROAD, *DRIVE, "export=[semantic_kitti]"])
    return out


def _consistency(sample) -> tuple[float, int]:
    """Share of the sweep's points with a clear line of sight from the camera that land on their own
    instance id in the camera's id map, and how many such points there are."""
    sweep = sample.lidar
    camera = sweep.deskewed.astype(np.float64) @ sweep.lidar_to_camera[:3, :3].T + sweep.lidar_to_camera[:3, 3]
    uv = sample.camera.project_camera_points(camera)
    height, width = sample.instance_ids.shape
    inside = np.isfinite(uv).all(axis=1)
    inside[inside] = (uv[inside, 0] >= 0) & (uv[inside, 0] < width) & (uv[inside, 1] >= 0) & (uv[inside, 1] < height)
    column, row = np.floor(uv[inside]).astype(int).T
    # line of sight: the camera sees this point's surface at this pixel (rendered depth agrees within 2%)
    seen = np.abs(sample.depth[row, column] - camera[inside, 2]) < 0.02 * camera[inside, 2]
    ids = sample.instance_ids[row, column][seen]
    return float(np.mean(ids == sweep.instance_ids[inside][seen])), int(seen.sum())


def test_road_sweeps_are_stored_labeled_and_consistent_with_the_camera(road_store):
    sample = read_sample(road_store, 0)
    sweep = sample.lidar
    assert len(sweep.points) > 10000 and (road_store / "lidar" / "000000.pcd").is_file()
    classes = set(np.unique(sweep.class_ids).tolist())
    assert {surface_class_id("road"), surface_class_id("building")} <= classes and classes & {1, 2}
    share, count = _consistency(sample)
    assert count > 1000 and share >= 0.99
    labeled = {b.instance_id for b in sweep.boxes}
    assert set(np.unique(sweep.instance_ids[sweep.instance_ids > 0]).tolist()) <= labeled
    for box in sweep.boxes:  # the record's counts are the (noisy) points inside
        local = (sweep.deskewed.astype(np.float64) - box.center) @ box.rotation
        assert box.num_points == np.all(np.abs(local) <= box.dimensions / 2 + 1e-4, axis=1).sum()
    assert any(box.num_points > 20 for box in sweep.boxes)
    assert np.allclose(sample.lidar.lidar_to_world[:3, 2], [0, 0, 1])  # a level roof mount


@pytest.mark.parametrize("clips", [(), ("motion=driving", "sequence.frames=3", "sequence.fps=10")], ids=["stills", "clips"])
def test_generate_with_lidar_is_byte_identical_for_any_worker_count(generate_cfg, tmp_path, clips):
    runs = stores_by_worker_count(generate_cfg, tmp_path, "n=2", "seed=4", *ROAD, "lidar.range_noise_m=0.05",
                                  "lidar.dropout=0.1", *clips)
    assert any(name.startswith("lidar/") for name in runs[1]) and runs[1] == runs[2]


def test_driving_sequence_distorts_sweeps_deskews_them_and_keeps_tracks(drive_store):
    samples = [read_sample(drive_store, i) for i in range(4)]
    moved = np.linalg.norm(samples[3].lidar.lidar_to_world[:3, 3] - samples[0].lidar.lidar_to_world[:3, 3])
    assert moved > 2.0  # 8-14 m/s over 0.3 s
    for sample in samples:
        share, count = _consistency(sample)
        assert count > 500 and share >= 0.99
        assert np.abs(sample.lidar.points - sample.lidar.deskewed).max() > 0.3
    tracks = [{b.instance_id: b.category_id for b in s.lidar.boxes} for s in samples]
    shared = set(tracks[0]) & set(tracks[-1])
    assert shared and all(tracks[0][k] == tracks[-1][k] for k in shared)


def test_kitti_export_velodyne_calib_and_labels_agree_with_the_sweep(road_store):
    kitti = road_store / "exports" / "kitti"
    sample = read_sample(road_store, 1)
    points = np.fromfile(kitti / "velodyne" / "000001.bin", dtype=np.float32).reshape(-1, 4)
    assert np.array_equal(points[:, :3], sample.lidar.deskewed) and np.array_equal(points[:, 3], sample.lidar.intensity)
    calib = {key: np.array(value.split(), float) for key, value in
             (line.split(":", 1) for line in (kitti / "calib" / "000001.txt").read_text().splitlines())}
    assert np.allclose(calib["Tr_velo_to_cam"].reshape(3, 4), sample.lidar.lidar_to_camera[:3], atol=1e-9)
    assert np.allclose(calib["P2"].reshape(3, 4)[:, :3], sample.camera.K)
    velo_from_cam = np.linalg.inv(sample.lidar.lidar_to_camera)
    boxes = {b.category: [] for b in sample.lidar.boxes}
    for box in sample.lidar.boxes:
        boxes[box.category].append(box)
    for line in (kitti / "label_2" / "000001.txt").read_text().splitlines():
        fields = line.split()
        h, w, length = (float(v) for v in fields[8:11])
        bottom = velo_from_cam @ np.append(np.array(fields[11:14], float), 1.0)
        # label_2's bottom centre (camera frame) is a LiDAR box's bottom centre, to label_2's 2 decimals
        assert any(np.allclose(bottom[:3], b.center - b.rotation[:, 2] * b.dimensions[2] / 2, atol=0.02)
                   and np.allclose([length, w, h], b.dimensions, atol=0.01) for b in boxes[fields[0]])


def test_point_cloud_files_are_read_by_open3d_and_pypcd4(road_store, tmp_path):
    open3d = pytest.importorskip("open3d")
    pypcd4 = pytest.importorskip("pypcd4")
    from synthgen.api import export

    stored = read_pcd(road_store / "lidar" / "000000.pcd")
    exported = road_store / "exports" / "pointcloud" / "000000.pcd"
    cloud = open3d.t.io.read_point_cloud(str(exported))
    assert np.array_equal(cloud.point.positions.numpy(), np.stack([stored[n] for n in "xyz"], axis=1))
    assert np.allclose(cloud.point.intensity.numpy().ravel(), stored["intensity"])
    assert len(open3d.io.read_point_cloud(str(exported)).points) == len(stored)  # the legacy reader too
    pcd = pypcd4.PointCloud.from_path(exported)
    assert set(pcd.fields) >= {"x", "y", "z", "intensity", "ring", "t", "instance", "label", "xd", "yd", "zd"}
    for name in ("x", "ring", "t", "instance", "label", "zd"):
        assert np.array_equal(pcd.numpy((name,)).ravel(), stored[name].astype(np.float64))
    ply = export("pointcloud", source=road_store, out=tmp_path / "ply", file_format="ply")
    read = open3d.t.io.read_point_cloud(str(ply / "000000.ply"))
    assert np.array_equal(read.point.positions.numpy(), np.stack([stored[n] for n in "xyz"], axis=1))
    assert np.array_equal(read.point.instance.numpy().ravel(), stored["instance"])


def test_semantic_kitti_sequences_are_read_by_pykitti_and_decode_to_the_sweep(drive_store):
    pykitti = pytest.importorskip("pykitti")
    root = drive_store / "exports" / "semantic_kitti"
    odometry = pykitti.odometry(str(root), "00")
    samples = [read_sample(drive_store, i) for i in range(4)]
    assert len(odometry.poses) == 4 and np.allclose(odometry.timestamps[3].total_seconds(), 0.3)
    assert np.allclose(odometry.calib.T_cam0_velo, samples[0].lidar.lidar_to_camera, atol=1e-9)
    # poses: camera at frame f -> camera at frame 0, so LiDAR motion = Tr^-1 pose Tr
    tr = samples[0].lidar.lidar_to_camera
    for frame, sample in enumerate(samples):
        lidar_motion = np.linalg.inv(samples[0].lidar.lidar_to_world) @ sample.lidar.lidar_to_world
        assert np.allclose(np.linalg.inv(tr) @ odometry.poses[frame] @ tr, lidar_motion, atol=1e-6)
        scan = odometry.get_velo(frame)
        assert np.array_equal(scan[:, :3], sample.lidar.points) and np.array_equal(scan[:, 3], sample.lidar.intensity)
        labels = np.fromfile(root / "sequences" / "00" / "labels" / f"{frame:06d}.label", dtype=np.uint32)
        assert np.array_equal(labels >> 16, sample.lidar.instance_ids)
        semantic = labels & 0xFFFF
        assert np.all(semantic[sample.lidar.class_ids == surface_class_id("road")] == 40)
        assert np.all(semantic[sample.lidar.class_ids == surface_class_id("building")] == 50)
        assert np.all(semantic[sample.lidar.class_ids == 1] == 10)  # car


def test_preview_draws_the_birds_eye_view_and_the_overlay(road_store, tmp_path):
    import cv2

    from synthgen.api import preview

    out = preview(source=road_store, out=tmp_path / "preview", n=2)
    views = cv2.imread(str(out / "lidar_000000.png"))
    assert views.shape == (120, 280, 3) and views[:, 160:].std() > 5  # image width + a square bird's-eye view


def test_shards_pack_the_sweep(tmp_path):
    from synthgen.api import generate

    out = tmp_path / "shards"
    generate(out=str(out), n=2, overrides=[*ROAD, "writer.layout=webdataset", "writer.shard_size=2", "export=[]"])
    with tarfile.open(next((out / "shards").glob("*.tar"))) as archive:
        assert {"000000.lidar.pcd", "000001.lidar.pcd"} <= set(archive.getnames())


@pytest.mark.parametrize("overrides, message", [
    (["lidar.preset=hdl65"], r"lidar\.preset"),
    (["lidar.min_range_m=200"], r"lidar\.min_range_m"),
    (["lidar.preset=null", "lidar.elevations_deg=[]"], r"lidar\.elevations_deg"),
    (["augment=default"], r"augment: 2D augmentation moves the image"),
])
def test_bad_lidar_configs_fail_with_one_clear_error(tmp_path, overrides, message):
    from synthgen.api import generate

    with pytest.raises(ConfigError, match=message):
        generate(out=str(tmp_path / "bad"), n=1, overrides=[*ROAD, *overrides])
    assert not (tmp_path / "bad" / "lidar").exists()


def _odometry_errors(out, field: str, deskew: bool) -> tuple[list[float], float]:
    """kiss-icp fed 20 sweeps' ``field`` points (ground dropped) and their per-point times: its
    translation error against the ground-truth ego motion per frame, and the distance driven."""
    kiss = pytest.importorskip("kiss_icp.kiss_icp")
    from kiss_icp.config import KISSConfig

    config = KISSConfig()
    config.data.max_range, config.data.min_range, config.data.deskew = 100.0, 1.0, deskew
    config.mapping.voxel_size = 1.0
    odometry = kiss.KissICP(config)
    ground = [surface_class_id(s) for s in ("road", "sidewalk", "terrain")]
    truth, errors = None, []
    for index in range(20):
        sweep = read_sample(out, index).lidar
        # a perfectly flat ground rings the sensor with a pattern that moves with it, which pulls
        # point-to-point ICP towards standing still; odometry front ends drop ground points first
        keep = ~np.isin(sweep.class_ids, ground)
        points = getattr(sweep, field)[keep].astype(np.float64)
        odometry.register_frame(points, (sweep.times_s[keep] / sweep.duration_s).astype(np.float64))
        truth = sweep.lidar_to_world if truth is None else truth
        expected = np.linalg.inv(truth) @ sweep.lidar_to_world
        errors.append(float(np.linalg.norm(odometry.last_pose[:3, 3] - expected[:3, 3])))
    return errors, float(np.linalg.norm(expected[:3, 3]))


@pytest.mark.slow
def test_kiss_icp_recovers_the_ground_truth_ego_trajectory(tmp_path):
    """A real LiDAR odometry fed the measured (motion-distorted) sweeps and their per-point times
    tracks the rig within 4% of the distance driven, and fed synthgen's deskewed points within 1%:
    the sweeps, their timing, the deskew and the poses agree."""
    pytest.importorskip("kiss_icp.kiss_icp")
    from synthgen.api import generate

    out = tmp_path / "drive"
    generate(out=str(out), n=1, seed=3, overrides=[
        "scene=road", "lidar=hdl64", "render.width=96", "render.height=72", "progress=false", "motion=driving",
        "sequence.frames=20", "sequence.fps=10", "sequence.flow=false", "export=[]"])
    measured, driven = _odometry_errors(out, "points", deskew=True)
    assert driven > 10 and max(measured) < 0.04 * driven
    deskewed, _ = _odometry_errors(out, "deskewed", deskew=False)
    assert max(deskewed) < 0.01 * driven


def test_semantic_kitti_refuses_a_class_id_the_dataset_does_not_have(road_store, tmp_path):
    import shutil

    from synthgen.api import export
    from synthgen.core.errors import InputError
    from synthgen.io.point_files import pcd_bytes

    store = tmp_path / "store"
    shutil.copytree(road_store, store)
    points = read_pcd(store / "lidar" / "000001.pcd")
    points["label"][7] = 999  # no category, no surface class
    (store / "lidar" / "000001.pcd").write_bytes(pcd_bytes(points))
    with pytest.raises(InputError, match=r"000001\.pcd: class id 999 is neither a category"):
        export("semantic_kitti", source=store, out=tmp_path / "sk")


def test_roadside_runs_the_whole_road_and_the_pointcloud_boxes_are_the_records(road_store):
    import json

    import synthgen
    from synthgen.core import sample_rng
    from synthgen.registry import instantiate

    sampler = instantiate(synthgen.compose("generate", ["scene=road"]).scene, "scene")
    spec = sampler.sample(sample_rng(0, 0), 160, 120)
    walk = next(obj for obj in spec.objects if obj.surface == "sidewalk").world_vertices()
    assert np.allclose([walk[:, 0].min(), walk[:, 0].max()], [-sampler.behind_m, sampler.length])
    record = json.loads((road_store / "labels" / "000000.json").read_text())["lidar"]
    boxes = json.loads((road_store / "exports" / "pointcloud" / "boxes" / "000000.json").read_text())
    assert boxes == record
