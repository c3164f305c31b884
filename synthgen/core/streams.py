"""Per-sample random streams, and every stream id in one place.

Sample ``i`` of a run with seed ``s`` draws from generators that depend only on
``(s, i)`` and a stream id, so a dataset does not depend on worker count, order or
resumption. Stream 0 is ``sample_rng`` (the scene); every other draw of a sample has
its own stream, so adding one never changes what the others draw.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AUGMENT_STREAM", "DIFFUSION_STREAM", "LIDAR_STREAM", "MOTION_STREAM", "PASTE_STREAM", "RENDER_STREAM",
           "SCENE_STREAM", "sample_rng", "stream_generator", "stream_seed"]

SCENE_STREAM = 0  # sample_rng: the scene sampler and its randomizers
AUGMENT_STREAM = 1  # 2D augmentation
MOTION_STREAM = 2  # a clip's trajectories (drawn once per clip, from the clip number)
DIFFUSION_STREAM = 3  # prompts and diffusion noise
RENDER_STREAM = 4  # the renderer's own draws (Cycles' seed, depth of field, motion blur): SceneSpec.render_seed
PASTE_STREAM = 5  # copy-paste synthesis: cut-outs, placements, blends, backgrounds
LIDAR_STREAM = 6  # a LiDAR sweep's sensor model: dropout, dead beams, range noise


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """Return the generator of sample ``index`` in a run seeded with ``seed``.

    Args:
        seed: Non-negative run seed.
        index: Non-negative sample index.

    Returns:
        A PCG64 generator seeded by ``SeedSequence(seed, spawn_key=(index,))``, the
        same stream ``SeedSequence(seed).spawn(...)`` would give child ``index``.
    """
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got seed={seed}, index={index}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


def stream_seed(seed: int, index: int, stream: int) -> int:
    """A 32-bit seed for an extra random stream of sample ``index`` (e.g. augmentation).

    Independent of ``sample_rng(seed, index)`` and of other streams, and like it a
    function of (seed, index) only.
    """
    if min(seed, index, stream) < 0:
        raise ValueError(f"seed, index and stream must be non-negative, got {seed}, {index}, {stream}")
    return int(np.random.SeedSequence(seed, spawn_key=(index, stream)).generate_state(1)[0])


def stream_generator(seed: int, index: int, stream: int) -> np.random.Generator:
    """A PCG64 generator of ``SeedSequence(seed, spawn_key=(index, stream))``: stream
    ``stream`` of sample (or clip) ``index``, independent of ``sample_rng`` and of the others."""
    if min(seed, index, stream) < 0:
        raise ValueError(f"seed, index and stream must be non-negative, got {seed}, {index}, {stream}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index, stream))))
