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


def write_shapes_dataset(root, images: int, seed: int, size: int = 128) -> None:
    """A trivially separable COCO detection set: red squares and blue discs on grey noise.

    ``root/annotations.json`` + ``root/images/NNN.png``; 1-3 non-overlapping objects per
    image, 20-44 px wide, with exact RLE masks.
    """
    import json
    from pathlib import Path

    import cv2
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    entries, annotations = [], []
    for index in range(images):
        pixels = rng.normal(128, 10, (size, size, 3)).clip(0, 255).astype(np.uint8)
        taken = np.zeros((size, size), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            category, radius = int(rng.integers(1, 3)), int(rng.integers(10, 22))
            cx, cy = (int(v) for v in rng.integers(radius + 1, size - radius - 1, 2))
            mask = np.zeros((size, size), dtype=np.uint8)
            if category == 1:
                cv2.rectangle(mask, (cx - radius, cy - radius), (cx + radius, cy + radius), 1, -1)
            else:
                cv2.circle(mask, (cx, cy), radius, 1, -1)
            if (taken & (mask > 0)).any():
                continue
            taken |= mask > 0
            pixels[mask > 0] = (40, 40, 220) if category == 1 else (220, 60, 40)  # BGR
            rle = mask_utils.encode(np.asfortranarray(mask))
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "category_id": category,
                                "bbox": mask_utils.toBbox(rle).tolist(), "area": float(mask.sum()), "iscrowd": 0,
                                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
        cv2.imwrite(str(root / "images" / f"{index:03d}.png"), pixels)
        entries.append({"id": index + 1, "file_name": f"{index:03d}.png", "width": size, "height": size})
    (root / "annotations.json").write_text(json.dumps({
        "images": entries, "annotations": annotations,
        "categories": [{"id": 1, "name": "square"}, {"id": 2, "name": "disc"}]}))


def store_files(root) -> dict[str, bytes]:
    """Relative path -> bytes of every file of a dataset but its manifest (which records how a run went)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def stores_by_worker_count(generate_cfg, tmp_path, *overrides: str) -> dict[int, dict[str, bytes]]:
    """``store_files`` of the same run made with workers=1 and workers=2."""
    from synthgen.commands.generate import generate

    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        generate(generate_cfg(f"out={out}", f"workers={workers}", *overrides))
        runs[workers] = store_files(out)
    return runs
