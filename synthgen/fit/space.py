"""The ranges ``synthgen fit`` may change, as a vector in the unit cube.

Each knob names a range of the scene config (``camera.distance: [min, max]``, ...) with
absolute limits. A ``[min, max]`` range is two coordinates, a number one, each mapped
linearly (or logarithmically, for positive quantities that act as factors: distance,
count, light intensity, object scale) from the knob's search bounds to 0..1. The search
bounds are the limits, narrowed for logarithmic knobs to ``reach`` times beyond the
scene's own values (a fit moves a scene, it does not invent another). ``object_scale``
is one factor applied to every category's ``scale`` range; ``background_kinds`` is one
coordinate per kind, included when >= 0.5. With ``generator=paste`` the copy-paste ranges
(objects per image, scale, rotation, occlusion allowed) are knobs of the generator node.
Decoded values are rounded to 4 significant digits (integers for counts), and what is
evaluated is exactly what is written.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.core.errors import ConfigError
from synthgen.core.validation import is_number

__all__ = ["KNOBS", "Knob", "PASTE_TARGET", "SearchSpace"]


@dataclass(frozen=True)
class Knob:
    """One fittable range.

    Args:
        path: Dotted key in the scene config (None for ``object_scale``, which scales
            every ``categories[i].scale``).
        limits: Absolute (min, max) the values stay within.
        log: Searched on a logarithmic scale.
        integer: Values are whole numbers.
        pair: A ``[min, max]`` range (else one number).
        node: The config node ``path`` is in: ``scene``, or ``generator`` (copy-paste's
            ranges, with ``generate=[generator=paste, ...]``).
    """

    path: str | None
    limits: tuple[float, float]
    log: bool = False
    integer: bool = False
    pair: bool = True
    node: str = "scene"


KNOBS: dict[str, Knob] = {
    "count": Knob("placement.count", (1, 60), log=True, integer=True),
    "camera_distance": Knob("camera.distance", (1e-3, 1e3), log=True),
    "camera_elevation": Knob("camera.elevation_deg", (1.0, 90.0)),
    "camera_fov": Knob("camera.fov_deg", (5.0, 120.0)),
    "camera_roll": Knob("camera.roll_deg", (-180.0, 180.0)),
    "placement_region": Knob("placement.region_radius", (0.0, 1e3), pair=False),
    "object_scale": Knob(None, (0.25, 4.0), log=True, pair=False),
    "light_intensity": Knob("lighting.intensity", (1e-3, 1e3), log=True),
    "light_temperature": Knob("lighting.temperature_k", (1500.0, 15000.0)),
    "ambient": Knob("lighting.ambient", (0.0, 1.0)),
    # generator=paste: objects per image, their size factor, turn and the occlusion allowed.
    "paste_objects": Knob("objects", (1, 100), log=True, integer=True, node="generator"),
    "paste_scale": Knob("scale", (1e-3, 1e4), log=True, node="generator"),
    "paste_rotation": Knob("rotation", (-180.0, 180.0), node="generator"),
    "paste_max_occlusion": Knob("max_occlusion", (0.0, 1.0), pair=False, node="generator"),
}
PASTE_TARGET = "synthgen.copy_paste.paste.Paste"
BACKGROUND_KINDS = "background_kinds"
_ALWAYS_AVAILABLE_KINDS = ("color", "procedural")  # kinds that need no further settings
_REACH = 8.0


def _get(tree: Mapping, path: str):
    node = tree
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _set(tree: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def _round(value: float, integer: bool) -> float | int:
    if integer:
        return int(round(value))
    if value == 0:
        return 0.0
    return float(f"{value:.4g}")


@dataclass
class _Active:
    name: str
    knob: Knob | None  # None: background kinds
    bounds: tuple[float, float]
    dims: int
    kinds: tuple[str, ...] = ()


class SearchSpace:
    """The knobs of one scene config that ``fit`` searches over.

    Args:
        scene: The scene config as a plain dict (resolved).
        names: Knobs to fit (keys of ``KNOBS`` or ``background_kinds``); knobs the scene
            does not have are left out and listed in ``skipped`` with the reason.
        generator: The generate config's ``generator`` node (plain dict) or None. With
            copy-paste (``Paste``) its ranges can be fitted, and without ``render_objects``
            the scene's are left out (nothing is rendered).

    Raises:
        ConfigError: An unknown knob name.
    """

    def __init__(self, scene: Mapping, names: Sequence[str], generator: Mapping | None = None):
        self.scene = copy.deepcopy(dict(scene))
        self.generator = copy.deepcopy(dict(generator or {}))
        pasting = self.generator.get("_target_") == PASTE_TARGET
        self._rendering = not pasting or bool(self.generator.get("render_objects"))
        self._pasting = pasting
        self.active: list[_Active] = []
        self.skipped: dict[str, str] = {}
        allowed = [*KNOBS, BACKGROUND_KINDS]
        for name in names:
            if name not in allowed:
                raise ConfigError(f"fit.parameters: unknown parameter {name!r}; choose from {allowed}")
            reason = self._add(name)
            if reason:
                self.skipped[name] = reason

    def _tree(self, knob: Knob | None) -> dict:
        return self.generator if knob is not None and knob.node == "generator" else self.scene

    def _add(self, name: str) -> str | None:
        knob = KNOBS.get(name)
        if knob is not None and knob.node == "generator" and not self._pasting:
            return "no generator=paste to fit"
        if (knob is None or knob.node == "scene") and not self._rendering:
            return "nothing is rendered (generator=paste without render_objects)"
        if name == BACKGROUND_KINDS:
            current = _get(self.scene, "randomize.background.kinds")
            if not current:
                return "the scene has no randomize.background"
            kinds = tuple(dict.fromkeys([*current, *_ALWAYS_AVAILABLE_KINDS]))
            self.active.append(_Active(name, None, (0.0, 1.0), len(kinds), kinds))
            return None
        knob = KNOBS[name]
        if name == "object_scale":
            if not self.scene.get("categories"):
                return "the scene has no categories list"
            self.active.append(_Active(name, knob, self._bounds(knob, [1.0]), 1))
            return None
        if name == "camera_fov" and _get(self.scene, "camera.focal_length_mm") is not None:
            return "the camera uses focal_length_mm, not fov_deg"
        value = _get(self._tree(knob), knob.path)
        shape_ok = (isinstance(value, Sequence) and len(value) == 2 and all(is_number(v) for v in value)
                    if knob.pair else is_number(value))
        if not shape_ok:
            where = f"{knob.node}.{knob.path}" if knob.node != "scene" else knob.path
            return f"{where} is {f'not in the {knob.node}' if value is None else f'{value!r}, not a plain range'}"
        self.active.append(_Active(name, knob, self._bounds(knob, list(value) if knob.pair else [value]), 1 + knob.pair))
        return None

    @staticmethod
    def _bounds(knob: Knob, current: list[float]) -> tuple[float, float]:
        low, high = knob.limits
        if knob.log:
            low = max(low, min(current) / _REACH)
            high = min(high, max(current) * _REACH)
        elif knob.path == "placement.region_radius":
            high = min(high, max(max(current) * _REACH, 0.05))
        return float(low), float(high)

    @property
    def size(self) -> int:
        """Length of the search vector."""
        return sum(a.dims for a in self.active)

    def names(self) -> list[str]:
        """The fitted knobs, in vector order."""
        return [a.name for a in self.active]

    def current(self) -> dict:
        """The scene's own value of every active knob."""
        values = {}
        for active in self.active:
            if active.knob is None:
                values[active.name] = list(_get(self.scene, "randomize.background.kinds"))
            elif active.name == "object_scale":
                values[active.name] = 1.0
            else:
                value = _get(self._tree(active.knob), active.knob.path)
                values[active.name] = list(value) if active.knob.pair else value
        return values

    def encode(self, values: Mapping) -> np.ndarray:
        """Values (as ``current`` gives them) -> (size,) float64 vector in 0..1."""
        parts = []
        for active in self.active:
            value = values[active.name]
            if active.knob is None:
                parts += [0.75 if kind in value else 0.25 for kind in active.kinds]
                continue
            low, high = active.bounds
            for v in (value if active.knob.pair else [value]):
                v = min(max(float(v), low), high)
                if active.knob.log:
                    parts.append((math.log(v) - math.log(low)) / max(math.log(high) - math.log(low), 1e-12))
                else:
                    parts.append((v - low) / max(high - low, 1e-12))
        return np.clip(np.asarray(parts, dtype=np.float64), 0.0, 1.0)

    def decode(self, vector: np.ndarray) -> dict:
        """(size,) vector (clipped to 0..1) -> rounded values, ``[min, max]`` pairs sorted."""
        vector = np.clip(np.asarray(vector, dtype=np.float64), 0.0, 1.0)
        values, position = {}, 0
        for active in self.active:
            part = vector[position:position + active.dims]
            position += active.dims
            if active.knob is None:
                chosen = [k for k, u in zip(active.kinds, part) if u >= 0.5]
                values[active.name] = chosen or [active.kinds[int(np.argmax(part))]]
                continue
            low, high = active.bounds
            if active.knob.log:
                decoded = [math.exp(math.log(low) + u * (math.log(high) - math.log(low))) for u in part]
            else:
                decoded = [low + u * (high - low) for u in part]
            decoded = sorted(_round(v, active.knob.integer) for v in decoded)
            values[active.name] = decoded if active.knob.pair else decoded[0]
        return values

    def changes(self, values: Mapping, node: str = "scene") -> dict:
        """The nested changes of config node ``node`` (``scene`` or ``generator``) that set
        ``values`` (merge them over that node)."""
        changes: dict = {}
        for active in self.active:
            value = values[active.name]
            if (active.knob.node if active.knob is not None else "scene") != node:
                continue
            if active.knob is None:
                _set(changes, "randomize.background.kinds", list(value))
            elif active.name == "object_scale":
                changes["categories"] = [self._scaled(category, value) for category in self.scene["categories"]]
            else:
                _set(changes, active.knob.path, list(value) if active.knob.pair else value)
        return changes

    @staticmethod
    def _scaled(category: Mapping, factor: float) -> dict:
        category = copy.deepcopy(dict(category))
        category["scale"] = [_round(s * factor, False) for s in category.get("scale", [1.0, 1.0])]
        return category
