"""Per-sample random generators.

Sample ``i`` of a run with seed ``s`` draws from a generator that depends only on
``(s, i)``, so a dataset does not depend on worker count, order or resumption.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_rng"]


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
