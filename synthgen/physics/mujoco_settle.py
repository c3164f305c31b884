"""Settle dropped bodies with MuJoCo until they are at rest.

Why MuJoCo: it is actively maintained (Google DeepMind, monthly releases, wheels for
every platform), deterministic (one thread, the same model and state give the same
trajectory bit for bit), builds models in memory (``MjSpec``: no temporary files), and
its soft contacts are set in physical terms (a contact time constant and a damping
ratio, from which a restitution follows) and stay stable for centimetre-sized objects
at millimetre time steps. PyBullet, the other choice, has had few releases since 2022
and its collision margins are centimetres (Bullet's default 0.04 m) unless tuned per shape.

World frame as everywhere in synthgen: metres, z up, gravity -9.81 m/s^2 along z.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_number
from synthgen.physics.collision_shapes import BodyMaterial, MassProperties

__all__ = ["DropBody", "DropZone", "SettleResult", "Settling", "StaticBody", "import_mujoco"]

_TORSION = 0.005   # m: torsional friction (condim 6), keeps parts from spinning in place forever
_ROLLING = 0.0005  # m: rolling resistance, so balls and cans stop rolling instead of leaving


def import_mujoco():
    """The ``mujoco`` module, or a ConfigError naming the extra that installs it."""
    try:
        import mujoco
    except ImportError as error:
        raise ConfigError("placement.rest: physics needs MuJoCo; install the physics extra: "
                          "pip install 'synthgen[physics]'") from error
    return mujoco


@dataclass(frozen=True)
class DropZone:
    """Where dropped objects must come to rest: a box or a disc around ``center``.

    Attributes:
        center: (2,) float64 x, y of the zone's centre, metres (world frame).
        half_size: (2,) float64 half extents along x and y (``shape`` box), or the
            radius twice (``shape`` disc), metres.
        floor_z: Height of the surface objects land on, metres.
        shape: ``box`` or ``disc``.
        rim_z: Height of the container's rim, metres.
        drop_half_size: Half extents (or radius) of the area objects are dropped over,
            within the zone; None: the whole zone.
    """

    center: np.ndarray
    half_size: np.ndarray
    floor_z: float = 0.0
    shape: str = "box"
    rim_z: float = 0.0
    drop_half_size: np.ndarray | None = None

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N,) bool: which (N, 3) world points lie over the zone (within ``margin`` metres)."""
        offset = np.asarray(points, dtype=np.float64)[:, :2] - self.center
        if self.shape == "disc":
            inside = np.linalg.norm(offset, axis=1) <= self.half_size[0] + margin
        else:
            inside = np.all(np.abs(offset) <= self.half_size + margin, axis=1)
        return inside & (np.asarray(points)[:, 2] >= self.floor_z - margin - 0.02)

    def draw_xy(self, rng: np.random.Generator, inset: float) -> np.ndarray:
        """A uniformly drawn (2,) position at least ``inset`` metres inside the zone's edge."""
        area = self.half_size if self.drop_half_size is None else np.minimum(self.drop_half_size, self.half_size)
        reach = np.maximum(area - inset, 0.0)
        if self.shape == "disc":
            radius, angle = reach[0] * math.sqrt(rng.uniform()), rng.uniform(0.0, 2.0 * math.pi)
            return self.center + radius * np.array([math.cos(angle), math.sin(angle)])
        return self.center + rng.uniform(-1.0, 1.0, size=2) * reach


@dataclass(frozen=True)
class DropBody:
    """A body to drop.

    Attributes:
        parts: Convex parts, (P_i, 3) float64 vertices each, object frame, scaled, metres.
        mass: Mass properties in the same frame.
        material: Friction and restitution.
        pose: (4, 4) float64 starting object -> world transform.
    """

    parts: tuple[np.ndarray, ...]
    mass: MassProperties
    material: BodyMaterial
    pose: np.ndarray


@dataclass(frozen=True)
class StaticBody:
    """A fixed support (table, bin, tray, bowl): convex parts in the world frame, metres."""

    parts: tuple[np.ndarray, ...]
    material: BodyMaterial = field(default_factory=BodyMaterial)


@dataclass(frozen=True)
class SettleResult:
    """Where the bodies came to rest.

    Attributes:
        poses: (N, 4, 4) float64 object -> world transforms at the end.
        moving: (N,) bool bodies still faster than the rest thresholds at the end.
        simulated_s: Simulated time, seconds.
        wall_s: Wall time of the simulation, seconds.
    """

    poses: np.ndarray
    moving: np.ndarray
    simulated_s: float
    wall_s: float


def _damping_ratio(restitution: float) -> float:
    """Damping ratio of a contact spring that bounces back with ``restitution`` of its speed."""
    if restitution <= 0.0:
        return 1.0
    log_e = math.log(restitution)
    return -log_e / math.sqrt(math.pi**2 + log_e**2)


def _quaternion(rotation: np.ndarray) -> list[float]:
    """MuJoCo's w, x, y, z quaternion of a (3, 3) rotation."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(rotation).as_quat()
    return [float(w), float(x), float(y), float(z)]


class Settling:
    """How dropped objects are simulated (a node of ``placement.physics``).

    Args:
        timestep: Simulation step, seconds.
        max_seconds: Simulated time budget; bodies still moving then did not settle.
        rest_speed: A body is at rest below this speed, m/s ...
        rest_spin: ... and this angular speed, rad/s.
        contact_time: Contact spring time constant, seconds (>= 2 timesteps; smaller:
            stiffer, less sinking into each other).
        drop_gap: Vertical gap between the bounding spheres of bodies stacked for the
            drop, metres.
        redraws: Drops tried again (new start poses) when an object leaves the support or
            does not settle; after that the sample is quarantined with the reason.
        engine: ``mujoco``.
        sleep: Let bodies at rest sleep (MuJoCo island sleeping): they cost no steps until
            something hits them.
        max_hull_vertices: Vertices kept of each convex part's hull.
    """

    def __init__(self, timestep: float = 0.002, max_seconds: float = 3.0, rest_speed: float = 0.01,
                 rest_spin: float = 0.3, contact_time: float = 0.008, drop_gap: float = 0.002, redraws: int = 3,
                 engine: str = "mujoco", sleep: bool = True, max_hull_vertices: int = 64):
        self.timestep = check_number("physics.timestep", timestep, minimum=1e-4, maximum=0.01)
        self.max_seconds = check_number("physics.max_seconds", max_seconds, minimum=0.01, maximum=60.0)
        self.rest_speed = check_number("physics.rest_speed", rest_speed, minimum=1e-5)
        self.rest_spin = check_number("physics.rest_spin", rest_spin, minimum=1e-4)
        self.contact_time = check_number("physics.contact_time", contact_time, minimum=2 * self.timestep,
                                         maximum=0.1)
        self.drop_gap = check_number("physics.drop_gap", drop_gap, minimum=0.0, maximum=1.0)
        self.redraws = check_number("physics.redraws", redraws, minimum=0, maximum=100, integer=True)
        self.engine = check_choice("physics.engine", engine, ["mujoco"])
        if not isinstance(sleep, bool):
            raise ConfigError(f"physics.sleep: must be true or false, got {sleep!r}")
        self.sleep = sleep
        self.max_hull_vertices = check_number("physics.max_hull_vertices", max_hull_vertices, minimum=8, maximum=4096,
                                              integer=True)

    def build_model(self, bodies: Sequence[DropBody], statics: Sequence[StaticBody]):
        """The compiled MuJoCo model (``mujoco.MjModel``) of ``bodies`` over ``statics``: body i + 1 is bodies[i]."""
        mujoco = import_mujoco()
        spec = mujoco.MjSpec()
        spec.option.timestep = self.timestep
        spec.option.gravity = [0.0, 0.0, -9.81]
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
        spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_FALSE
        if self.sleep:  # bodies at rest stop costing steps until something hits them
            spec.option.enableflags |= mujoco.mjtEnableBit.mjENBL_SLEEP
            spec.option.sleep_tolerance = self.rest_speed / 10
        for s, static in enumerate(statics):
            for p, part in enumerate(static.parts):
                self._add_part(spec, spec.worldbody, f"static{s}_{p}", part, static.material)
        for b, body in enumerate(bodies):
            node = spec.worldbody.add_body()
            node.name = f"body{b}"
            node.pos = body.pose[:3, 3].tolist()
            node.quat = _quaternion(body.pose[:3, :3])
            node.mass = body.mass.mass
            node.ipos = body.mass.center.tolist()
            inertia = body.mass.inertia
            node.fullinertia = [inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2]]
            node.explicitinertial = True
            node.add_freejoint()
            for p, part in enumerate(body.parts):
                self._add_part(spec, node, f"body{b}_{p}", part, body.material)
        return spec.compile()

    def _add_part(self, spec, parent, name: str, vertices: np.ndarray, material: BodyMaterial) -> None:
        mujoco = import_mujoco()
        mesh = spec.add_mesh()
        mesh.name = name
        mesh.uservert = np.asarray(vertices, dtype=np.float64).ravel().tolist()
        mesh.maxhullvert = self.max_hull_vertices
        geom = parent.add_geom()
        geom.type = mujoco.mjtGeom.mjGEOM_MESH
        geom.meshname = name
        geom.condim = 6
        geom.friction = [material.friction, _TORSION, _ROLLING]
        geom.solref = [self.contact_time, _damping_ratio(material.restitution)]

    def simulate(self, bodies: Sequence[DropBody], statics: Sequence[StaticBody],
                 floor_z: float = 0.0) -> SettleResult:
        """Drop ``bodies`` onto ``statics`` and step until all rest, one falls 0.1 m below
        ``floor_z`` (it left the support: no point going on), or the time budget ends."""
        mujoco = import_mujoco()
        started = time.perf_counter()
        model = self.build_model(bodies, statics)
        data = mujoco.MjData(model)
        count = len(bodies)
        chunk = max(1, round(0.02 / self.timestep))  # check every 20 ms of simulated time
        limit = max(1, round(self.max_seconds / self.timestep))
        steps, calm_checks = 0, 0
        while steps < limit:
            mujoco.mj_step(model, data, nstep=chunk)
            steps += chunk
            calm_checks = 0 if self._moving(data.qvel, count).any() else calm_checks + 1
            if calm_checks >= 3 or np.any(data.xpos[1:, 2] < floor_z - 0.1):
                break
        poses = np.tile(np.eye(4), (count, 1, 1))
        poses[:, :3, :3] = data.xmat[1:].reshape(count, 3, 3)
        poses[:, :3, 3] = data.xpos[1:]
        return SettleResult(poses, self._moving(data.qvel, count), steps * self.timestep,
                            time.perf_counter() - started)

    def _moving(self, qvel: np.ndarray, count: int) -> np.ndarray:
        """(count,) bool: bodies at or above the rest speed or spin (free joints: 3 linear + 3 angular)."""
        velocity = qvel.reshape(count, 6)
        return (np.linalg.norm(velocity[:, :3], axis=1) >= self.rest_speed) | \
            (np.linalg.norm(velocity[:, 3:], axis=1) >= self.rest_spin)
