"""Per-sample random generators.

Sample ``i`` of a run with seed ``s`` draws from a generator that depends only on
``(s, i)``, so a dataset does not depend on worker count, order or resumption.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_rng", "stream_seed"]


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
