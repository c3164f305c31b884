"""Road scenes: a straight multi-lane road with lane markings as 3D polylines, vehicles, and the
roadside structure a LiDAR sees.

World frame: the road runs along +x from the camera (x = 0), z up, lanes side by
side along y. Lane markings are painted into the road's texture (so they never
z-fight with the road at a distance) and labeled as 3D polylines along their centre
lines, solid at the road edges and dashed between lanes (the label runs through the
gaps, as lane datasets annotate them). Vehicles drive in the lanes ahead, as labeled
instances with 3D cuboids; the camera is a ``ForwardCamera`` (KITTI-like by default).
Beside the road (both sides, also behind the camera, where a spinning LiDAR looks):
parking strips with parked cars (labeled, role ``parked``), sidewalks, buildings, poles,
signs and trees as simple randomized meshes, each kind one unlabeled object whose
``surface`` class labels its LiDAR points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import trimesh

from synthgen.core import CategoryInfo, MeshGeometry, Polyline, SceneObject, SceneSpec, Texture
from synthgen.core.color import srgb_to_linear
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number, check_range_pair, check_vector
from synthgen.randomize.base import SceneRandomizer, apply_randomizers, check_randomizers
from synthgen.randomize.camera import ForwardCamera
from synthgen.randomize.lighting import Lighting
from synthgen.randomize.placement import rotation_z
from synthgen.randomize.textures import procedural_texture
from synthgen.scene.assets import Asset, AssetDraw
from synthgen.scene.tabletop import Category

__all__ = ["RoadSampler", "VehicleShape"]

_PIXELS_PER_METRE_ALONG = 8
_PIXELS_PER_METRE_ACROSS = 32
_SHOULDER_M = 1.0  # asphalt beyond the outer markings
_PARKING_M = 2.4  # parking strip between the shoulder and the kerb
_SIDEWALK_M = 2.5
_KERB_M = 0.15
_ROADSIDE_COLORS = {"sidewalk": (150, 150, 145), "building": (170, 150, 130), "pole": (110, 110, 115),
                    "traffic_sign": (230, 230, 235), "vegetation": (60, 110, 50), "trunk": (95, 70, 50)}


# Roadside parts are dozens of boxes, cylinders and spheres per scene. Building each through
# trimesh costs ~0.5 ms; scaling one unit mesh per shape gives the same vertices, bit for bit
# (a test compares them with trimesh's own), at a hundredth of the cost.
_UNIT_BOX = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
_UNIT_CYLINDER = trimesh.creation.cylinder(radius=1.0, height=1.0, sections=10)
_ICOSAHEDRON = trimesh.creation.icosahedron().subdivide()  # icosphere(subdivisions=1) before its radius
_ICO_NORMS = np.sqrt(np.dot(_ICOSAHEDRON.vertices**2, [1, 1, 1]))
_ICO_DIRECTIONS = _ICOSAHEDRON.vertices / _ICO_NORMS.reshape((-1, 1))

Part = tuple[np.ndarray, np.ndarray]  # (V, 3) float64 vertices in metres, (F, 3) int64 faces


def _box(centre, extents) -> Part:
    """``trimesh.creation.box(extents=extents)`` moved to ``centre``."""
    return _UNIT_BOX.vertices * extents + centre, _UNIT_BOX.faces


def _cylinder(radius: float, height: float, centre) -> Part:
    """``trimesh.creation.cylinder(radius, height, sections=10)`` moved to ``centre``."""
    return _UNIT_CYLINDER.vertices * [radius, radius, height] + centre, _UNIT_CYLINDER.faces


def _sphere(radius: float) -> Part:
    """``trimesh.creation.icosphere(subdivisions=1, radius=radius)``, centred on the origin."""
    return _ICOSAHEDRON.vertices + _ICO_DIRECTIONS * (radius - _ICO_NORMS).reshape((-1, 1)), _ICOSAHEDRON.faces


def _joined(parts: list[Part]) -> Part:
    """One mesh of several parts, in order (as ``trimesh.util.concatenate``)."""
    offsets = np.cumsum([0] + [len(vertices) for vertices, _ in parts[:-1]])
    return (np.concatenate([vertices for vertices, _ in parts]),
            np.concatenate([faces + offset for (_, faces), offset in zip(parts, offsets)]))


class VehicleShape(Asset):
    """A car-like body: a lower body, a cabin and four wheels, in ``variants`` proportions.

    The vehicle faces +x with its wheels on z = 0 (its frame origin is on the ground
    under its centre), so its cuboid is the usual 3D box of driving datasets.

    Args:
        length: [min, max] metres.
        width: [min, max] metres.
        height: [min, max] metres (roof).
        cabin: [min, max] share of the length taken by the cabin.
        variants: Number of different proportions built (instances draw one).
        seed: Seed of the variants.
    """

    def __init__(
        self,
        length: Sequence[float] = (3.8, 4.8),
        width: Sequence[float] = (1.6, 1.9),
        height: Sequence[float] = (1.4, 1.6),
        cabin: Sequence[float] = (0.45, 0.6),
        variants: int = 6,
        seed: int = 0,
    ):
        self.length = check_range_pair("length", length, minimum=0.5)
        self.width = check_range_pair("width", width, minimum=0.3)
        self.height = check_range_pair("height", height, minimum=0.3)
        self.cabin = check_range_pair("cabin", cabin, minimum=0.1, maximum=1.0)
        count = check_number("variants", variants, minimum=1, maximum=64, integer=True)
        rng = np.random.default_rng(check_number("seed", seed, minimum=0, integer=True))
        signature = f"vehicle:{self.length}:{self.width}:{self.height}:{self.cabin}:{seed}"
        self.variants = tuple(self._variant(rng, f"{signature}:{i}") for i in range(count))
        super().__init__(self.variants[0])

    def _variant(self, rng: np.random.Generator, key: str) -> MeshGeometry:
        length, width, height = rng.uniform(*self.length), rng.uniform(*self.width), rng.uniform(*self.height)
        wheel = 0.33 * height / 1.5
        body_height = 0.5 * height
        body = trimesh.creation.box(extents=[length, width, body_height])
        body.apply_translation([0, 0, wheel * 0.6 + body_height / 2])
        cabin_length = length * rng.uniform(*self.cabin)
        cabin = trimesh.creation.box(extents=[cabin_length, width * 0.86, height - wheel * 0.6 - body_height])
        cabin.apply_translation([-length * 0.08, 0, height - (height - wheel * 0.6 - body_height) / 2])
        parts = [body, cabin]
        for x in (length * 0.32, -length * 0.32):
            for y in (width / 2 - 0.12, -width / 2 + 0.12):
                tyre = trimesh.creation.cylinder(radius=wheel, height=0.22, sections=16)
                tyre.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
                tyre.apply_translation([x, y, wheel])
                parts.append(tyre)
        mesh = trimesh.util.concatenate(parts)
        return MeshGeometry(mesh.vertices, mesh.faces, smooth=False, key=key)

    def draw(self, rng: np.random.Generator) -> AssetDraw:
        return AssetDraw(self.variants[int(rng.integers(len(self.variants)))], self.keypoints)


class RoadSampler:
    """A straight road ahead of the camera with lanes, lane markings and vehicles.

    Args:
        categories: Vehicle categories (``Category`` with a ``VehicleShape`` or any asset
            whose frame stands on z = 0 facing +x).
        lanes: [min, max] number of lanes.
        lane_width: [min, max] metres.
        length: Road length ahead of the camera, metres.
        vehicles: [min, max] vehicles per image.
        ahead_m: [min, max] distance of vehicles ahead of the camera, metres.
        heading_deg: [min, max] vehicle yaw relative to the road, degrees.
        dash_m: [dash, gap] lengths of dashed markings, metres.
        marking_width: Marking width, metres.
        road_color: [r, g, b] asphalt colour, sRGB 0..255.
        marking_color: [r, g, b] paint colour.
        ground_color: [r, g, b] colour beyond the road.
        sky_color: [r, g, b] seen where no surface is hit.
        camera: Camera rig (``ForwardCamera``).
        lighting: Lighting rig.
        randomize: Name -> randomizer applied to every scene in this order.
        parked: [min, max] parked cars per side (labeled, role ``parked``: motion leaves them).
        buildings: [min, max] buildings per side.
        trees: [min, max] trees per side.
        poles: [min, max] poles (street lights) per side.
        signs: [min, max] signs per side.
        behind_m: Metres of road and roadside behind the camera.
    """

    def __init__(
        self,
        categories: Sequence[Category],
        lanes: Sequence[int] = (2, 4),
        lane_width: Sequence[float] = (3.0, 3.7),
        length: float = 120.0,
        vehicles: Sequence[int] = (2, 6),
        ahead_m: Sequence[float] = (6.0, 60.0),
        heading_deg: Sequence[float] = (-4.0, 4.0),
        dash_m: Sequence[float] = (3.0, 9.0),
        marking_width: float = 0.15,
        road_color: Sequence[float] = (70, 70, 72),
        marking_color: Sequence[float] = (235, 235, 225),
        ground_color: Sequence[float] = (90, 110, 60),
        sky_color: Sequence[float] = (150, 185, 225),
        camera: ForwardCamera | None = None,
        lighting: Lighting | None = None,
        randomize: Mapping[str, SceneRandomizer] | None = None,
        parked: Sequence[int] = (0, 3),
        buildings: Sequence[int] = (4, 8),
        trees: Sequence[int] = (5, 12),
        poles: Sequence[int] = (4, 8),
        signs: Sequence[int] = (0, 2),
        behind_m: float = 30.0,
    ):
        if not isinstance(categories, Sequence) or len(categories) == 0:
            raise ConfigError("categories: must list at least one vehicle category")
        self.category_list = list(categories)
        self.lanes = check_range_pair("lanes", lanes, minimum=1, maximum=8, integer=True)
        self.lane_width = check_range_pair("lane_width", lane_width, minimum=1.0, maximum=10.0)
        self.length = check_number("length", length, minimum=10.0, maximum=1000.0)
        self.vehicles = check_range_pair("vehicles", vehicles, minimum=0, maximum=64, integer=True)
        self.ahead_m = check_range_pair("ahead_m", ahead_m, minimum=0.0, maximum=self.length)
        self.heading_deg = check_range_pair("heading_deg", heading_deg, minimum=-180.0, maximum=180.0)
        self.dash_m = check_vector("dash_m", dash_m, 2, minimum=0.1)
        self.marking_width = check_number("marking_width", marking_width, minimum=0.02, maximum=1.0)
        self.road_color = np.array(check_vector("road_color", road_color, 3, minimum=0, maximum=255))
        self.marking_color = np.array(check_vector("marking_color", marking_color, 3, minimum=0, maximum=255))
        self.ground_color = np.array(check_vector("ground_color", ground_color, 3, minimum=0, maximum=255))
        self.sky_color = np.array(check_vector("sky_color", sky_color, 3, minimum=0, maximum=255))
        self.camera = camera if camera is not None else ForwardCamera()
        self.lighting = lighting if lighting is not None else Lighting()
        self.randomize = check_randomizers("randomize", randomize)
        self.parked = check_range_pair("parked", parked, minimum=0, maximum=32, integer=True)
        self.buildings = check_range_pair("buildings", buildings, minimum=0, maximum=64, integer=True)
        self.trees = check_range_pair("trees", trees, minimum=0, maximum=128, integer=True)
        self.poles = check_range_pair("poles", poles, minimum=0, maximum=64, integer=True)
        self.signs = check_range_pair("signs", signs, minimum=0, maximum=32, integer=True)
        self.behind_m = check_number("behind_m", behind_m, minimum=0.0, maximum=500.0)
        vehicle_categories = [
            CategoryInfo(i + 1, c.name, c.asset.keypoint_names, c.asset.skeleton) for i, c in enumerate(self.category_list)
        ]
        self.marking_category = CategoryInfo(len(vehicle_categories) + 1, "lane_marking", kind="polyline")
        self.categories = (*vehicle_categories, self.marking_category)
        ground = trimesh.creation.box(extents=[self.length * 3, self.length * 3, 0.02])
        ground_pose = np.eye(4)
        ground_pose[:3, 3] = [self.length / 2, 0.0, -0.03]
        self._ground = SceneObject(MeshGeometry(ground.vertices, ground.faces, key="road:ground"), ground_pose,
                                   color=np.append(srgb_to_linear(self.ground_color), 1.0), role="support", surface="terrain")

    def sample(self, rng: np.random.Generator, width: int, height: int) -> SceneSpec:
        """Draw one road scene for a ``width`` x ``height`` image."""
        lane_count = int(rng.integers(self.lanes[0], self.lanes[1] + 1))
        lane_width = rng.uniform(*self.lane_width)
        ego_lane = int(rng.integers(lane_count))
        # Boundary k lies at y_k; the camera (y near 0) drives in the middle of lane ego_lane.
        boundaries = (np.arange(lane_count + 1) - ego_lane - 0.5) * lane_width
        road, lines = self._road(rng, boundaries)
        vehicles = self._vehicles(rng, boundaries)
        camera = self.camera.sample(rng, width, height)
        ambient, lights = self.lighting.sample(rng)
        roadside = self._roadside(rng, boundaries, len(vehicles))
        spec = SceneSpec(
            camera=camera, objects=(self._ground, road, *vehicles, *roadside), lights=lights, categories=self.categories,
            ambient=ambient, background=self.sky_color / 255.0, polylines=tuple(lines),
        )
        return apply_randomizers(spec, self.randomize, rng)

    def _road(self, rng: np.random.Generator, boundaries: np.ndarray) -> tuple[SceneObject, list[Polyline]]:
        """The road surface with markings painted into its texture, and the markings' centre lines."""
        y_min, y_max = boundaries[0] - _SHOULDER_M - _PARKING_M, boundaries[-1] + _SHOULDER_M + _PARKING_M
        x_min, x_max = -max(self.behind_m, 5.0), self.length
        columns = int((x_max - x_min) * _PIXELS_PER_METRE_ALONG)
        rows = int((y_max - y_min) * _PIXELS_PER_METRE_ACROSS)
        asphalt = procedural_texture("noise", rng, 256, (self.road_color * 0.85, self.road_color * 1.15), 32.0)
        image = cv2.resize(np.tile(asphalt, (1, max(columns // rows, 1), 1)), (columns, rows))
        lines = []
        dash, gap = self.dash_m
        phase = rng.uniform(0.0, dash + gap)
        for k, y in enumerate(boundaries):
            dashed = 0 < k < len(boundaries) - 1
            # Image row 0 is v = 1, the road's +y edge.
            row0 = int(round((y_max - (y + self.marking_width / 2)) * _PIXELS_PER_METRE_ACROSS))
            row1 = int(round((y_max - (y - self.marking_width / 2)) * _PIXELS_PER_METRE_ACROSS))
            paint = np.zeros(columns, bool)
            x = x_min + (np.arange(columns) + 0.5) / _PIXELS_PER_METRE_ALONG
            paint |= ((x - phase) % (dash + gap) < dash) if dashed else True
            image[row0:row1, paint] = self.marking_color.astype(np.uint8)
            lines.append(Polyline(self.marking_category.id, np.array([[0.5, y, 0.0], [x_max, y, 0.0]])))
        surface = trimesh.creation.box(extents=[x_max - x_min, y_max - y_min, 0.02])
        surface.apply_translation([(x_min + x_max) / 2, (y_min + y_max) / 2, -0.01])
        uv = (surface.vertices[:, :2] - [x_min, y_min]) / [x_max - x_min, y_max - y_min]
        # Its width changes with every scene: uploaded for this frame only, never pooled.
        geometry = MeshGeometry(surface.vertices, surface.faces, uv=uv, cacheable=False)
        road = SceneObject(geometry, np.eye(4), color=np.ones(4), role="support", roughness=0.9, texture=Texture(image),
                           surface="road")
        return road, lines

    def _roadside(self, rng: np.random.Generator, boundaries: np.ndarray, vehicles: int) -> list[SceneObject]:
        """Parked cars, sidewalks, buildings, poles, signs and trees on both sides of the road."""
        x_min, x_max = -self.behind_m, self.length
        parts: dict[str, list[Part]] = {name: [] for name in _ROADSIDE_COLORS}
        parked = []
        for side, edge in ((-1.0, boundaries[0] - _SHOULDER_M), (1.0, boundaries[-1] + _SHOULDER_M)):
            parked += self._parked(rng, side, edge + side * _PARKING_M / 2, vehicles + len(parked) + 1)
            kerb = edge + side * _PARKING_M
            parts["sidewalk"].append(_box([(x_min + x_max) / 2, kerb + side * _SIDEWALK_M / 2, _KERB_M / 2],
                                          [x_max - x_min, _SIDEWALK_M, _KERB_M]))
            behind = kerb + side * _SIDEWALK_M
            parts["building"] += self._buildings(rng, side, behind)
            for _ in range(int(rng.integers(self.poles[0], self.poles[1] + 1))):
                height = rng.uniform(6.0, 9.0)
                parts["pole"].append(_cylinder(0.12, height, [rng.uniform(x_min, x_max), kerb + side * 0.4, height / 2]))
            for _ in range(int(rng.integers(self.signs[0], self.signs[1] + 1))):
                x, y = rng.uniform(x_min, x_max), kerb + side * 0.6
                parts["pole"].append(_cylinder(0.05, 2.2, [x, y, 1.1]))
                parts["traffic_sign"].append(_box([x, y, 2.5], [0.05, 0.7, 0.7]))
            for _ in range(int(rng.integers(self.trees[0], self.trees[1] + 1))):
                x, y, height = rng.uniform(x_min, x_max), behind + side * rng.uniform(-1.0, 1.0), rng.uniform(2.0, 4.0)
                parts["trunk"].append(_cylinder(0.2, height, [x, y, height / 2]))
                crown, faces = _sphere(rng.uniform(1.5, 3.0))
                extent = crown[:, 2].max() - crown[:, 2].min()
                parts["vegetation"].append((crown + [x, y, height + extent * 0.35], faces))
        surfaces = []
        for name, meshes in parts.items():
            if meshes:  # one object per kind (the renderer shades one colour per object), its shade drawn
                vertices, faces = _joined(meshes)
                shade = np.clip(np.asarray(_ROADSIDE_COLORS[name]) * rng.uniform(0.75, 1.15), 0, 255)
                color = np.append(srgb_to_linear(shade), 1.0)
                geometry = MeshGeometry(vertices, faces, cacheable=False)
                surfaces.append(SceneObject(geometry, np.eye(4), color=color, role="scenery", surface=name))
        return parked + surfaces

    def _parked(self, rng: np.random.Generator, side: float, lane_y: float, first_id: int) -> list[SceneObject]:
        """Parked cars along one parking strip, facing either way, never overlapping."""
        cars, taken = [], []
        for _ in range(int(rng.integers(self.parked[0], self.parked[1] + 1))):
            index = int(rng.integers(len(self.category_list)))
            car = self.category_list[index].draw(rng, first_id + len(cars), index + 1)
            half = float(np.abs(car.mesh.vertices[:, 0]).max()) * car.scale + 0.5
            x = rng.uniform(-self.behind_m + half, self.length - half)
            if any(abs(x - other) < half + other_half for other, other_half in taken):
                continue
            taken.append((x, half))
            pose = np.eye(4)
            pose[:3, :3] = rotation_z(np.pi * int(rng.integers(2)))
            pose[:3, 3] = [x, lane_y, 0.0]
            cars.append(dataclasses.replace(car, pose=pose, role="parked"))
        return cars

    def _buildings(self, rng: np.random.Generator, side: float, walk_y: float) -> list[Part]:
        """A row of box buildings facing the road, each set back 1-8 m behind the sidewalk at ``walk_y``."""
        blocks, x = [], -self.behind_m + rng.uniform(0.0, 10.0)
        for _ in range(int(rng.integers(self.buildings[0], self.buildings[1] + 1))):
            length, depth, height = rng.uniform(8.0, 25.0), rng.uniform(6.0, 15.0), rng.uniform(4.0, 18.0)
            if x + length > self.length:
                break
            front_y = walk_y + side * rng.uniform(1.0, 8.0)
            blocks.append(_box([x + length / 2, front_y + side * depth / 2, height / 2], [length, depth, height]))
            x += length + rng.uniform(0.0, 12.0)
        return blocks

    def _vehicles(self, rng: np.random.Generator, boundaries: np.ndarray) -> list[SceneObject]:
        lane_centres = (boundaries[:-1] + boundaries[1:]) / 2.0
        occupied: list[tuple[float, float, float]] = []  # (lane y, x, half length)
        vehicles = []
        for _ in range(int(rng.integers(self.vehicles[0], self.vehicles[1] + 1))):
            index = int(rng.integers(len(self.category_list)))
            vehicle = self.category_list[index].draw(rng, len(vehicles) + 1, index + 1)
            lane_y = lane_centres[int(rng.integers(len(lane_centres)))]
            x = rng.uniform(*self.ahead_m)
            half = float(np.abs(vehicle.mesh.vertices[:, :2]).max()) * vehicle.scale + 1.0  # plus a safety metre
            if any(y == lane_y and abs(x - other) < half + other_half for y, other, other_half in occupied):
                continue
            occupied.append((lane_y, x, half))
            pose = np.eye(4)
            pose[:3, :3] = rotation_z(np.deg2rad(rng.uniform(*self.heading_deg)))
            pose[:3, 3] = [x, lane_y + rng.uniform(-0.3, 0.3), 0.0]
            vehicles.append(dataclasses.replace(vehicle, pose=pose))
        return vehicles
