"""Articulated mannequins with the 17 COCO person keypoints.

A mannequin is built from capsules (limbs, torso), spheres (head, hands) and a neck,
posed by forward kinematics from joint angles drawn within anatomical limits. Its
frame: z up, facing +x, its left side towards +y, feet near z = 0. Keypoints are the
joint centres (inside the limbs, so each carries its limb radius as depth slack:
a joint counts as visible when the surface seen at its pixel is its own limb, and
as occluded when anything, the figure's own other limbs included, is closer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import trimesh

from synthgen.core import MeshGeometry
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number, check_range_pair
from synthgen.scene.assets import Asset, AssetDraw

__all__ = ["COCO_KEYPOINTS", "COCO_SKELETON", "JOINT_LIMITS_DEG", "Mannequin", "pose_joints"]

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# COCO's person skeleton (as in person_keypoints_*.json), by name.
COCO_SKELETON = (
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
    ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
    ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
)
# Anatomical ranges of motion (degrees), after the AAOS normal values, rounded.
JOINT_LIMITS_DEG = {
    "hip_flexion": (-20.0, 110.0),        # + leg forward
    "hip_abduction": (-20.0, 40.0),       # + leg outwards
    "knee_flexion": (0.0, 135.0),         # + shin backwards
    "shoulder_flexion": (-50.0, 170.0),   # + arm forward and up
    "shoulder_abduction": (0.0, 160.0),   # + arm outwards and up
    "elbow_flexion": (0.0, 145.0),        # + forearm forward
    "torso_bend": (-15.0, 45.0),          # + lean forward
    "torso_twist": (-40.0, 40.0),
    "neck_pitch": (-40.0, 50.0),          # + nod down
    "neck_yaw": (-70.0, 70.0),
}
# Proportions of a 1.75 m adult (metres): segment lengths and radii.
_THIGH, _SHIN, _UPPER_ARM, _FOREARM = 0.45, 0.43, 0.30, 0.26
_ANKLE_HEIGHT, _HIP_HALF_WIDTH, _SHOULDER_HALF_WIDTH = 0.08, 0.09, 0.19
_TORSO_HEIGHT, _HEAD_RADIUS = 0.50, 0.105
_RADIUS = {"thigh": 0.075, "shin": 0.052, "upper_arm": 0.048, "forearm": 0.04, "torso": 0.15, "foot": 0.04}


def _rot_x(deg: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(deg: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(deg: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _capsule(start: np.ndarray, end: np.ndarray, radius: float, sections: int) -> trimesh.Trimesh:
    """A capsule whose axis runs from ``start`` to ``end``."""
    axis = end - start
    length = float(np.linalg.norm(axis))
    capsule = trimesh.creation.capsule(radius=radius, height=max(length, 1e-6), count=[sections, sections])
    transform = trimesh.geometry.align_vectors([0, 0, 1], axis / max(length, 1e-9))
    transform[:3, 3] = (start + end) / 2.0
    capsule.apply_transform(transform)
    return capsule


def _sphere(centre: np.ndarray, radius: float) -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=radius)
    sphere.apply_translation(centre)
    return sphere


def pose_joints(angles: Mapping[str, float]) -> tuple[dict[str, np.ndarray], list[tuple]]:
    """Forward kinematics of the mannequin.

    Args:
        angles: Joint angles in degrees; per side for limbs (``left_knee_flexion``, ...),
            shared for torso and neck. Missing angles are 0 (standing, arms down).

    Returns:
        keypoints: COCO name -> (3,) float64 position in the mannequin frame (metres).
        parts: ``("capsule", start, end, radius)`` / ``("sphere", centre, radius)`` pieces.
    """
    a = lambda name: float(angles.get(name, 0.0))  # noqa: E731
    pelvis = np.array([0.0, 0.0, _ANKLE_HEIGHT + _SHIN + _THIGH + 0.03])
    torso = _rot_z(a("torso_twist")) @ _rot_y(a("torso_bend"))
    head_turn = torso @ _rot_z(a("neck_yaw")) @ _rot_y(a("neck_pitch"))
    points: dict[str, np.ndarray] = {}
    parts: list[tuple] = []
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip = pelvis + np.array([0.0, sign * _HIP_HALF_WIDTH, -0.03])
        thigh = _rot_y(-a(f"{side}_hip_flexion")) @ _rot_x(sign * a(f"{side}_hip_abduction"))
        knee = hip + thigh @ [0, 0, -_THIGH]
        shin = thigh @ _rot_y(a(f"{side}_knee_flexion"))
        ankle = knee + shin @ [0, 0, -_SHIN]
        toe = ankle + shin @ [0.17, 0, -0.04]
        shoulder = pelvis + torso @ [0.0, sign * _SHOULDER_HALF_WIDTH, _TORSO_HEIGHT - 0.04]
        upper = torso @ _rot_y(-a(f"{side}_shoulder_flexion")) @ _rot_x(sign * a(f"{side}_shoulder_abduction"))
        elbow = shoulder + upper @ [0, 0, -_UPPER_ARM]
        forearm = upper @ _rot_y(-a(f"{side}_elbow_flexion"))
        wrist = elbow + forearm @ [0, 0, -_FOREARM]
        points.update({f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle,
                       f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist})
        parts += [
            ("capsule", hip, knee, _RADIUS["thigh"]), ("capsule", knee, ankle, _RADIUS["shin"]),
            ("capsule", ankle, toe, _RADIUS["foot"]), ("capsule", shoulder, elbow, _RADIUS["upper_arm"]),
            ("capsule", elbow, wrist, _RADIUS["forearm"]), ("sphere", wrist + forearm @ [0, 0, -0.05], 0.045),
        ]
    neck_base = pelvis + torso @ [0.0, 0.0, _TORSO_HEIGHT]
    head = neck_base + head_turn @ [0.0, 0.0, 0.16]
    points["nose"] = head + head_turn @ [_HEAD_RADIUS, 0.0, -0.015]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        points[f"{side}_eye"] = head + head_turn @ [0.088, sign * 0.035, 0.025]
        points[f"{side}_ear"] = head + head_turn @ [0.0, sign * _HEAD_RADIUS, 0.0]
    parts += [
        ("capsule", pelvis + torso @ [0, 0, 0.08], pelvis + torso @ [0, 0, _TORSO_HEIGHT - 0.12], _RADIUS["torso"]),
        ("capsule", neck_base - torso @ [0, 0, 0.04], head, 0.05),
        ("sphere", head, _HEAD_RADIUS),
    ]
    return points, parts


# Depth slack of each keypoint: how far inside the body surface it sits (metres): the
# largest radius of the parts meeting at the joint, plus a centimetre.
_SLACK = {
    "nose": 0.01, "eye": 0.01, "ear": 0.01,
    "shoulder": _RADIUS["upper_arm"] + 0.02, "elbow": _RADIUS["upper_arm"] + 0.01, "wrist": _RADIUS["forearm"] + 0.01,
    "hip": _RADIUS["thigh"] + 0.02, "knee": _RADIUS["thigh"] + 0.01, "ankle": _RADIUS["shin"] + 0.01,
}


class Mannequin(Asset):
    """A posable figure with the 17 COCO person keypoints; each instance gets a new pose.

    Args:
        pose_range: 0..1, how much of each joint's anatomical range poses use
            (0: standing straight, 1: full range of motion).
        limits_deg: Optional overrides of ``JOINT_LIMITS_DEG`` as ``{joint: [min, max]}``.
        sections: Capsule tessellation (segments around and along).
    """

    def __init__(self, pose_range: float = 0.5, limits_deg: Mapping[str, Sequence[float]] | None = None,
                 sections: int = 10):
        self.pose_range = check_number("pose_range", pose_range, minimum=0.0, maximum=1.0)
        self.limits = dict(JOINT_LIMITS_DEG)
        for joint, pair in (limits_deg or {}).items():
            if joint not in JOINT_LIMITS_DEG:
                raise ConfigError(f"limits_deg.{joint}: unknown joint; joints: {sorted(JOINT_LIMITS_DEG)}")
            self.limits[joint] = check_range_pair(f"limits_deg.{joint}", pair, minimum=-180.0, maximum=180.0)
        self.sections = check_number("sections", sections, minimum=4, maximum=64, integer=True)
        keypoints, parts = pose_joints({})
        super().__init__(self._geometry(parts, cacheable=True), {name: keypoints[name].tolist() for name in COCO_KEYPOINTS},
                         [list(pair) for pair in COCO_SKELETON])
        self.keypoint_slack = np.array([_SLACK[name.split("_")[-1]] for name in COCO_KEYPOINTS])

    def random_angles(self, rng: np.random.Generator) -> dict[str, float]:
        """Joint angles (degrees) within ``pose_range`` of each anatomical range around 0."""
        angles = {}
        for joint, (low, high) in sorted(self.limits.items()):
            limbs = ("left_", "right_") if joint.split("_")[0] in ("hip", "knee", "shoulder", "elbow") else ("",)
            for prefix in limbs:
                angles[prefix + joint] = float(rng.uniform(low * self.pose_range, high * self.pose_range))
        return angles

    def draw(self, rng: np.random.Generator) -> AssetDraw:
        """A newly posed figure (its geometry is used for this sample only)."""
        keypoints, parts = pose_joints(self.random_angles(rng))
        geometry = self._geometry(parts, cacheable=False)
        return AssetDraw(geometry, np.array([keypoints[name] for name in COCO_KEYPOINTS]), self.keypoint_slack)

    def _geometry(self, parts, cacheable: bool) -> MeshGeometry:
        meshes = [
            _capsule(part[1], part[2], part[3], self.sections) if part[0] == "capsule" else _sphere(part[1], part[2])
            for part in parts
        ]
        mesh = trimesh.util.concatenate(meshes)
        key = "" if not cacheable else f"mannequin:rest:{self.sections}"
        return MeshGeometry(mesh.vertices, mesh.faces, smooth=True, key=key, cacheable=cacheable)
