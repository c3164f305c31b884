"""Components used by tests through config (allowed_target_prefixes=[tests.])."""

import numpy as np

from synthgen.labels.derive import LabelDeriver


class CorruptingDeriver(LabelDeriver):
    """Derives labels, then breaks the first box of the listed samples (to exercise quarantine)."""

    def __init__(self, corrupt_indices=(1,), **kwargs):
        super().__init__(**kwargs)
        self.corrupt_indices = tuple(corrupt_indices)

    def __call__(self, render, spec, index):
        sample = super().__call__(render, spec, index)
        if index in self.corrupt_indices and sample.instances:
            sample.instances[0].bbox = sample.instances[0].bbox + np.array([0.0, 0.0, 3.0, 0.0])
        return sample
