"""The transfer signal fit chooses by: how well a detector trained on a candidate's renders
alone finds the objects of the user's real photos.

Matching label and pixel statistics is not what a detector needs (a fit that halved its
statistics gap made transfer worse), so fit's finalists are compared by this proxy: a short
training of the TSTR detector (``synthgen.validation.detector``) on the candidate's images,
scored by box mAP50 on every real photo fit was given, repeated with different detector seeds
and averaged (the repeats' spread says how much a difference means). The real photos are
only tested on, never trained on; where a scene takes textures or cut-outs from those same
photos, the score is optimistic for every candidate alike.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synthgen.io.dataset import LabeledDataset, LabeledImage
from synthgen.validation.detector import DetectorTraining, coco_scores

__all__ = ["TransferProxy"]


def _renamed(images, synthetic: LabeledDataset, real: LabeledDataset) -> list[LabeledImage]:
    """The synthetic images with category ids mapped by name onto the real set's (others dropped)."""
    real_ids = {c.name: c.id for c in real.categories}
    mapping = {c.id: real_ids[c.name] for c in synthetic.categories if c.name in real_ids}
    return [dataclasses.replace(image, objects=[dataclasses.replace(o, category_id=mapping[o.category_id])
                                                for o in image.objects if o.category_id in mapping])
            for image in images]


@dataclasses.dataclass
class TransferProxy:
    """Train-on-candidate, test-on-the-real-photos scores.

    Attributes:
        steps: Detector training steps per repeat.
        image_size: Longer image side fed to the detector (pixels).
        repeats: Trainings per candidate (detector seeds ``seed``, ``seed + 1``, ...).
        device: ``cpu`` or ``cuda``.
        seed: First detector seed.
    """

    steps: int = 150
    image_size: int = 256
    repeats: int = 2
    device: str = "cpu"
    seed: int = 0

    def score(self, synthetic: LabeledDataset, real: LabeledDataset) -> dict:
        """``map50`` (mean over repeats) and ``runs`` (each repeat's) of detectors trained on
        ``synthetic`` alone, tested on every image of ``real``; 0 for renders without a labeled
        object of a real category (nothing to learn from: such a candidate transfers nothing)."""
        images = _renamed(list(synthetic.images), synthetic, real)
        if not any(image.objects for image in images):
            return {"map50": 0.0, "runs": [0.0] * self.repeats, "note": "no labeled object in the renders"}
        objects = [c for c in real.categories if c.kind == "object"]
        runs = []
        for repeat in range(self.repeats):
            training = DetectorTraining(image_size=self.image_size, steps=self.steps, seed=self.seed + repeat)
            detector = training.build([c.id for c in objects], masks=False, device=self.device)
            detector.fit(images)
            test = LabeledDataset(real.name, tuple(objects), list(real.images))
            runs.append(coco_scores(test, detector.predict(test.images), "bbox", 0, np.random.default_rng(0))["map50"])
        return {"map50": float(np.mean(runs)), "runs": [float(r) for r in runs]}
