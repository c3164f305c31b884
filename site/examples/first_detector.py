"""Train a small torchvision detector on a synthgen dataset (the getting-started example).

Usage: python first_detector.py [DATASET] [STEPS]   (defaults: fruits 200)
"""

import sys

import torch
from torch.utils.data import DataLoader
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

from synthgen.torch import StoreDataset, collate_detection


def main(data: str = "fruits", steps: int = 200) -> None:
    dataset = StoreDataset(data)  # a synthgen store, its tar shards, or any COCO/YOLO/VOC set
    classes = 1 + max(category.id for category in dataset.categories)  # + background (id 0)
    # weights=None: nothing is downloaded; on a machine with internet, weights_backbone="DEFAULT"
    # (ImageNet features) learns far faster.
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=classes)
    loader = DataLoader(dataset, batch_size=4, shuffle=True, collate_fn=collate_detection)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    model.train()
    step = 0
    while step < steps:
        for images, targets in loader:
            losses = model([image.float() / 255 for image in images], targets)
            loss = sum(losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 20 == 0 or step == steps:
                print(f"step {step}: loss {loss.item():.3f}")
            if step == steps:
                break
    torch.save(model.state_dict(), "detector.pt")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["fruits"]), *(int(a) for a in sys.argv[2:3]))
