"""Point cloud files: PCD/PLY bytes of a sweep, and the store's PCD reader on damaged input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.core.errors import InputError
from synthgen.io.point_files import SWEEP_FIELDS, pcd_bytes, ply_bytes, read_pcd


def _array(count: int = 5) -> np.ndarray:
    rng = np.random.default_rng(0)
    array = np.zeros(count, SWEEP_FIELDS)
    for name in SWEEP_FIELDS.names:
        array[name] = rng.uniform(0, 100, count).astype(SWEEP_FIELDS[name])
    return array


def test_pcd_round_trip_and_header(tmp_path):
    array = _array()
    path = tmp_path / "a.pcd"
    path.write_bytes(pcd_bytes(array))
    assert np.array_equal(read_pcd(path), array)
    header = path.read_bytes().split(b"DATA binary\n")[0].decode()
    assert "FIELDS x y z intensity ring t instance label xd yd zd" in header and "POINTS 5" in header
    assert "SIZE 4 4 4 4 2 4 4 2 4 4 4" in header and "TYPE F F F F U F I U F F F" in header
    empty = tmp_path / "empty.pcd"
    empty.write_bytes(pcd_bytes(_array(0)))
    assert len(read_pcd(empty)) == 0


def test_ply_header_declares_every_field():
    header = ply_bytes(_array()).split(b"end_header\n")[0].decode()
    assert "element vertex 5" in header and "property ushort ring" in header and "property int instance" in header


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:-3], "truncated"),
    (lambda data: data.replace(b"DATA binary", b"DATA ascii"), "not a binary PCD"),
    (lambda data: data.replace(b"FIELDS x y z", b"FIELDS x y q"), "are not a synthgen sweep"),
    (lambda data: data.replace(b"POINTS 5", b"POINTS five"), "malformed PCD header"),
    (lambda data: data.replace(b"SIZE 4 4 4 4 2", b"SIZE 4 4 4 4"), "malformed PCD header"),
    (lambda data: b"", "not a binary PCD"),
])
def test_damaged_pcd_is_one_input_error_naming_the_file(tmp_path, damage, message):
    path = tmp_path / "bad.pcd"
    path.write_bytes(damage(pcd_bytes(_array())))
    with pytest.raises(InputError, match=message) as raised:
        read_pcd(path)
    assert str(path) in str(raised.value)
    with pytest.raises(InputError, match="cannot read"):
        read_pcd(tmp_path / "missing.pcd")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=8), st.integers(0, 40))
def test_mutated_pcd_reads_or_fails_with_input_error(flips, cut):
    data = bytearray(pcd_bytes(_array()))
    for position, value in flips:
        if position < len(data):
            data[position] = value
    data = bytes(data[:len(data) - cut])
    try:
        array = read_pcd("fuzzed.pcd", data)
    except InputError:
        return
    assert array.dtype == SWEEP_FIELDS


def test_a_sweep_is_checked_against_its_record(tmp_path):
    from synthgen.io.dataset import LidarFrame
    from synthgen.io.point_files import read_points, read_sweep

    path = tmp_path / "a.pcd"
    path.write_bytes(pcd_bytes(_array(5)))
    frame = LidarFrame(path, 5, np.eye(4), np.eye(4), -0.05, 0.1)
    sweep = read_sweep(frame)
    assert sweep.points.shape == (5, 3) and sweep.start_s == -0.05 and np.array_equal(sweep.rings, _array(5)["ring"])
    with pytest.raises(InputError, match="holds 5 points, its label record says 6"):
        read_points(LidarFrame(path, 6, np.eye(4), np.eye(4), -0.05, 0.1))
    broken = _array(5)
    broken["zd"][2] = np.nan
    path.write_bytes(pcd_bytes(broken))
    with pytest.raises(InputError, match="field zd holds a non-finite value"):
        read_points(frame)
