"""Write the small mesh assets shipped in scenes/assets, and asset-set layouts for tests.

Usage:
    python scripts/make_assets.py [OUT_DIR]            shipped assets (default: scenes/assets)
    python scripts/make_assets.py --layouts OUT_DIR    a BOP models/ folder, a Google Scanned
                                                       Objects folder, a ShapeNet-style folder
                                                       and a plain folder under OUT_DIR

Each asset is built in code with trimesh, so the files are reproducible and tiny: plain
geometry (one per file format) and textured ones (a GLB box whose texture is half red,
half blue; an OBJ+MTL can with a printed label; a GLB with two materials; a PLY with
vertex colours).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial, SimpleMaterial


def bottle() -> trimesh.Trimesh:
    """A 16 cm bottle: body, shoulder, neck and cap, as a surface of revolution."""
    radius_height = np.array([
        [0.0, 0.0], [0.032, 0.0], [0.034, 0.004], [0.034, 0.095], [0.026, 0.115],
        [0.013, 0.128], [0.013, 0.145], [0.015, 0.146], [0.015, 0.16], [0.0, 0.16],
    ])
    return trimesh.creation.revolve(radius_height, sections=40)


def donut() -> trimesh.Trimesh:
    """A torus lying flat: 4 cm major radius, 1.4 cm tube."""
    return trimesh.creation.torus(major_radius=0.04, minor_radius=0.014, major_sections=40, minor_sections=20)


def pyramid() -> trimesh.Trimesh:
    """A square pyramid, 7 cm base, 6 cm tall, base corners on the axes' diagonals."""
    return trimesh.creation.cone(radius=0.05, height=0.06, sections=4)


def mug() -> trimesh.Trimesh:
    """A mug: an open-looking cylinder body with a torus handle (overlapping parts)."""
    body = trimesh.creation.cylinder(radius=0.04, height=0.095, sections=40)
    body.apply_translation([0, 0, 0.0475])
    handle = trimesh.creation.torus(major_radius=0.025, minor_radius=0.007, major_sections=30, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([0.045, 0, 0.05])
    return trimesh.util.concatenate([body, handle])


ASSETS = {"bottle.glb": bottle, "donut.ply": donut, "pyramid.stl": pyramid, "mug.obj": mug}

RED, BLUE = (200, 30, 30), (30, 60, 200)


def half_red_half_blue(size: int = 64) -> Image.Image:
    """Left half red, right half blue (u < 0.5 red)."""
    image = np.zeros((size, size, 3), np.uint8)
    image[:, : size // 2] = RED
    image[:, size // 2:] = BLUE
    return Image.fromarray(image)


def box_faces_uv(mesh: trimesh.Trimesh) -> np.ndarray:
    """(V, 2) uv of an unmerged box: u along x (so -x is red, +x blue), v along the other axis of each face."""
    low, high = mesh.bounds
    unit = (mesh.vertices - low) / (high - low)
    v = np.where(np.abs(mesh.vertex_normals[:, 2]) > 0.5, unit[:, 1], unit[:, 2])
    return np.stack([unit[:, 0], v], axis=1)


def textured_box() -> trimesh.Trimesh:
    """A 6 cm box with a PBR base-colour texture: its -x half red, its +x half blue."""
    mesh = trimesh.creation.box(extents=[0.06, 0.06, 0.06])
    mesh.unmerge_vertices()
    material = PBRMaterial(baseColorTexture=half_red_half_blue(), metallicFactor=0.0, roughnessFactor=0.7)
    mesh.visual = trimesh.visual.TextureVisuals(uv=box_faces_uv(mesh), material=material)
    return mesh


def label_image(size: int = 128) -> Image.Image:
    """A can label: cream paper, a red band and dark 'text' blocks."""
    image = np.full((size, size, 3), (236, 228, 204), np.uint8)
    image[size * 3 // 8: size * 5 // 8] = (190, 35, 40)
    rng = np.random.default_rng(7)
    for _ in range(10):
        x, y = rng.integers(0, size - 16, size=2)
        image[y: y + 4, x: x + int(rng.integers(6, 16))] = (40, 30, 30)
    return Image.fromarray(image)


def label_can() -> trimesh.Trimesh:
    """A 12 cm can (radius 3.3 cm) with a printed label through cylindrical uv (OBJ + MTL + PNG)."""
    mesh = trimesh.creation.cylinder(radius=0.033, height=0.12, sections=48)
    mesh.unmerge_vertices()
    angle = np.arctan2(mesh.vertices[:, 1], mesh.vertices[:, 0])
    uv = np.stack([(angle + np.pi) / (2 * np.pi), (mesh.vertices[:, 2] + 0.06) / 0.12], axis=1)
    material = SimpleMaterial(image=label_image(), diffuse=(255, 255, 255, 255), glossiness=20, name="label")
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return mesh


def two_material_mug() -> trimesh.Scene:
    """A mug of two primitives: a white glazed body and a red metallic handle (one GLB)."""
    body = trimesh.creation.cylinder(radius=0.04, height=0.095, sections=40)
    body.apply_translation([0, 0, 0.0475])
    body.visual = trimesh.visual.TextureVisuals(material=PBRMaterial(
        name="glaze", baseColorFactor=[0.9, 0.9, 0.85, 1.0], metallicFactor=0.0, roughnessFactor=0.3))
    handle = trimesh.creation.torus(major_radius=0.025, minor_radius=0.007, major_sections=30, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([0.045, 0, 0.05])
    handle.visual = trimesh.visual.TextureVisuals(material=PBRMaterial(
        name="handle", baseColorFactor=[0.8, 0.05, 0.05, 1.0], metallicFactor=0.8, roughnessFactor=0.35))
    scene = trimesh.Scene()
    scene.add_geometry(body, geom_name="body")
    scene.add_geometry(handle, geom_name="handle")
    return scene


def painted_ball(radius: float = 0.035) -> trimesh.Trimesh:
    """A ball with sRGB vertex colours: yellow at the top blending to green at the bottom."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    t = ((mesh.vertices[:, 2] / radius + 1) / 2)[:, None]
    rgb = t * np.array([230, 200, 40]) + (1 - t) * np.array([40, 150, 60])
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=np.column_stack([rgb, np.full(len(rgb), 255)]).astype(np.uint8))
    return mesh


TEXTURED_ASSETS = {"textured_box.glb": textured_box, "label_can.obj": label_can,
                   "two_material_mug.glb": two_material_mug, "painted_ball.ply": painted_ball}


def write_obj(mesh: trimesh.Trimesh, path: Path) -> None:
    """OBJ + MTL + texture named after the OBJ (trimesh's default names would clash in one folder)."""
    text, files = trimesh.exchange.obj.export_obj(mesh, include_texture=True, return_texture=True,
                                                  mtl_name=f"{path.stem}.mtl")
    renames = {}
    for name in files:
        if not name.endswith(".mtl"):
            renames[name] = f"{path.stem}{Path(name).suffix}"
    for name, data in files.items():
        if name.endswith(".mtl"):
            mtl = data.decode()
            for old, new in renames.items():
                mtl = mtl.replace(old, new)
            (path.parent / name).write_text(mtl)
        else:
            (path.parent / renames[name]).write_bytes(data)
    path.write_text(text)


def write_asset(item, path: Path) -> None:
    if path.suffix == ".obj" and isinstance(item, trimesh.Trimesh) and isinstance(item.visual, trimesh.visual.TextureVisuals):
        write_obj(item, path)
    else:
        item.export(path)


def write_bop_models(root: Path) -> Path:
    """A BOP ``models/`` folder: two objects in millimetres with vertex colours, and models_info.json."""
    box = trimesh.creation.box(extents=[60.0, 40.0, 20.0])
    box.visual = trimesh.visual.ColorVisuals(box, vertex_colors=np.tile([[90, 120, 200, 255]], (len(box.vertices), 1)))
    return write_bop_folder(root, {1: painted_ball(35.0), 2: box})


def l_bracket(length: float = 50.0, height: float = 30.0, width: float = 20.0, thickness: float = 6.0) -> trimesh.Trimesh:
    """An L-shaped bracket (a concave solid: the physics test of convex decomposition), millimetres."""
    outline = np.array([[0, 0], [length, 0], [length, thickness], [thickness, thickness], [thickness, height], [0, height]],
                       dtype=np.float64)
    vertices = np.concatenate([np.c_[outline, np.zeros(6)], np.c_[outline, np.full(6, width)]])
    bottom = [[0, 2, 1], [0, 3, 2], [0, 4, 3], [0, 5, 4]]
    top = [[a + 6, b + 6, c + 6] for a, c, b in bottom]
    sides = [face for i in range(6) for face in ([i, (i + 1) % 6, (i + 1) % 6 + 6], [i, (i + 1) % 6 + 6, i + 6])]
    mesh = trimesh.Trimesh(vertices - [length / 3, height / 3, width / 2], bottom + top + sides)
    mesh.fix_normals()
    return trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=3.0)


def painted(mesh, pattern) -> trimesh.Trimesh:
    """``mesh`` (vertices, faces) with sRGB vertex colours ``pattern(vertices)``: a printed look."""
    mesh = trimesh.Trimesh(*mesh) if isinstance(mesh, tuple) else mesh
    rgb = np.clip(pattern(mesh.vertices), 0, 255)
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=np.column_stack([rgb, np.full(len(rgb), 255)]).astype(np.uint8))
    return mesh


def bop_parts() -> dict[int, trimesh.Trimesh]:
    """Four small industrial parts, millimetres, vertex-painted: the default bin_picking objects."""
    def stripes(axis, period, a, b):
        return lambda v: np.where(((v[:, axis] // period) % 2)[:, None] == 0, a, b)

    nut = trimesh.creation.annulus(6.0, 12.0, 8.0, sections=6)
    nut = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(nut.vertices, nut.faces, max_edge=2.0))
    can = trimesh.creation.cylinder(radius=14.0, height=40.0, sections=48)
    can = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(can.vertices, can.faces, max_edge=4.0))
    block = trimesh.creation.box(extents=[40.0, 24.0, 16.0])
    block = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(block.vertices, block.faces, max_edge=3.0))
    return {
        1: painted(l_bracket(), stripes(0, 5.0, [200, 90, 30], [60, 60, 70])),
        2: painted(nut, lambda v: 150 + 60 * np.sin(v[:, [0, 1, 2]] * 0.9)),
        3: painted(can, stripes(2, 6.0, [210, 30, 40], [235, 235, 230])),
        4: painted(block, lambda v: np.where(((v[:, 0] // 8 + v[:, 1] // 8) % 2)[:, None] == 0, [40, 110, 200], [240, 200, 40])),
    }


def write_bop_folder(root: Path, meshes: dict[int, trimesh.Trimesh]) -> Path:
    """A BOP ``models/`` folder: ``obj_NNNNNN.ply`` in millimetres and models_info.json."""
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    info = {}
    for obj_id, mesh in meshes.items():
        mesh.export(models / f"obj_{obj_id:06d}.ply")
        low, high = mesh.bounds
        info[str(obj_id)] = {"diameter": float(np.linalg.norm(high - low)), "min_x": float(low[0]), "min_y": float(low[1]),
                             "min_z": float(low[2]), "size_x": float(high[0] - low[0]), "size_y": float(high[1] - low[1]),
                             "size_z": float(high[2] - low[2])}
    (models / "models_info.json").write_text(json.dumps(info, indent=1))
    return models


def write_gso_models(root: Path) -> Path:
    """Google Scanned Objects layout: ``NAME/meshes/model.obj`` + ``NAME/materials/textures/texture.png``."""
    for name, build in (("red_blue_box", textured_box), ("label_can", label_can)):
        mesh = build()
        meshes = root / name / "meshes"
        textures = root / name / "materials" / "textures"
        meshes.mkdir(parents=True, exist_ok=True)
        textures.mkdir(parents=True, exist_ok=True)
        material = mesh.visual.material
        image = material.baseColorTexture if isinstance(material, PBRMaterial) else material.image
        image.save(textures / "texture.png")
        # As in the GSO archives: the MTL names texture.png next to it, but the file lives in materials/textures/.
        mesh.visual = trimesh.visual.TextureVisuals(uv=mesh.visual.uv, material=SimpleMaterial(image=image, name="material_0"))
        write_obj(mesh, meshes / "model.obj")
        (meshes / "model.png").unlink()
        mtl = meshes / "model.mtl"
        mtl.write_text(mtl.read_text().replace("model.png", "texture.png"))
    return root


def write_shapenet_models(root: Path) -> Path:
    """ShapeNet layout, y up: ``SYNSET/MODEL_ID/models/model_normalized.obj``."""
    for model_id, build in (("1a2b", label_can), ("3c4d", textured_box)):
        mesh = build()
        mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))  # z up -> y up
        folder = root / "02946921" / model_id / "models"
        folder.mkdir(parents=True, exist_ok=True)
        write_obj(mesh, folder / "model_normalized.obj")
    return root


def write_plain_folder(root: Path) -> Path:
    """A plain folder of mesh files of several formats."""
    root.mkdir(parents=True, exist_ok=True)
    write_asset(textured_box(), root / "box.glb")
    write_asset(painted_ball(), root / "ball.ply")
    write_asset(label_can(), root / "can.obj")
    return root


def write_layouts(out_dir: Path) -> None:
    write_bop_models(out_dir / "bop")
    write_gso_models(out_dir / "gso")
    write_shapenet_models(out_dir / "shapenet")
    write_plain_folder(out_dir / "plain")
    print(f"{out_dir}: bop/models, gso, shapenet, plain")


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, build in {**ASSETS, **TEXTURED_ASSETS}.items():
        item = build()
        write_asset(item, out_dir / name)
        faces = len(item.faces) if isinstance(item, trimesh.Trimesh) else sum(len(g.faces) for g in item.geometry.values())
        print(f"{out_dir / name}: {faces} faces")
    write_bop_models(out_dir / "bop_mini")
    write_bop_folder(out_dir / "bop_parts", bop_parts())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--layouts":
        write_layouts(Path(sys.argv[2]))
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "scenes" / "assets")
