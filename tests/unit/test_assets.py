import numpy as np
import pytest

from synthgen.core.errors import ConfigError, InputError
from synthgen.scene.assets import BOX_CORNER_NAMES, MeshFile, Primitive, load_mesh_file


@pytest.mark.parametrize("name", ["assets/bottle.glb", "assets/donut.ply", "assets/pyramid.stl", "assets/mug.obj"])
def test_shipped_mesh_files_load(name):
    geometry = load_mesh_file(name)
    assert len(geometry.faces) > 0 and geometry.key.startswith("file:")


def test_primitive_box_corners_and_skeleton():
    box = Primitive("box", [0.2, 0.1, 0.3], keypoints="corners")
    assert box.keypoint_names == BOX_CORNER_NAMES
    assert np.allclose(np.abs(box.keypoints), [0.1, 0.05, 0.15])
    assert len(box.skeleton) == 12
    assert np.allclose(box.geometry.bounds, [[-0.1, -0.05, -0.15], [0.1, 0.05, 0.15]])


def test_mesh_file_scale_and_keypoints():
    asset = MeshFile("assets/pyramid.stl", scale=2.0, keypoints={"apex": [0, 0, 0.12]}, skeleton=[])
    assert asset.geometry.bounds[1, 2] == pytest.approx(0.12)
    assert asset.keypoint_names == ("apex",)


def test_skeleton_must_name_keypoints():
    with pytest.raises(ConfigError, match=r"skeleton\[0\]: unknown keypoint 'tail'"):
        Primitive("sphere", [0.1], keypoints={"top": [0, 0, 0.1]}, skeleton=[["top", "tail"]])


def test_primitive_size_arity():
    with pytest.raises(ConfigError, match=r"size: a cylinder takes \[radius, height\]"):
        Primitive("cylinder", [0.1])


def test_unreadable_mesh_file_names_file(tmp_path):
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF\x02\x00\x00\x00garbage")
    with pytest.raises(InputError, match=r"mesh file '.*broken\.glb' could not be read"):
        load_mesh_file(broken)


def test_mesh_file_without_triangles_names_file(tmp_path):
    empty = tmp_path / "empty.obj"
    empty.write_text("# nothing here\n")
    with pytest.raises(InputError, match=r"empty\.obj"):
        load_mesh_file(empty)


def test_missing_and_unsupported_mesh_files(tmp_path):
    with pytest.raises(InputError, match=r"mesh file 'nope\.obj' not found"):
        load_mesh_file("nope.obj")
    with pytest.raises(InputError, match=r"unsupported type"):
        load_mesh_file(tmp_path / "mesh.fbx")
