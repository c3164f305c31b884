"""Rigid-body settling: objects dropped onto a support or into a container come to rest.

``collision_shapes`` turns a mesh into convex parts (its hull, or a ``coacd`` convex
decomposition cached per asset) and its mass properties; ``mujoco_settle`` drops bodies
in MuJoCo and reports where they came to rest. Both need the ``physics`` extra
(``pip install 'synthgen[physics]'``: mujoco, coacd). numpy arrays in, numpy arrays out:
nothing here knows scenes or renderers.
"""

from synthgen.physics.collision_shapes import BodyMaterial, MassProperties, convex_parts, import_coacd, mass_properties
from synthgen.physics.mujoco_settle import DropBody, DropZone, SettleResult, Settling, StaticBody, import_mujoco

__all__ = [
    "BodyMaterial",
    "DropBody",
    "DropZone",
    "MassProperties",
    "SettleResult",
    "Settling",
    "StaticBody",
    "convex_parts",
    "import_coacd",
    "import_mujoco",
    "mass_properties",
]
