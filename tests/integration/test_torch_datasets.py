"""synthgen.torch: StoreDataset over a store, its shards and a real COCO set; StreamingDataset renders
the samples generate writes, in DataLoader workers; a torchvision detector trains on them."""

import pytest
import torch
import torchvision.transforms.v2 as T
from torchvision import tv_tensors

from synthgen.pipeline.generation import generate_from_config
from synthgen.torch import StoreDataset, StreamingDataset, collate_detection
from tests.conftest import SMALL_RUN
from tests.helpers_files import tree_bytes
from tests.resources import FRUITS

N = 4


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from synthgen.paths import conf_dir

    root = tmp_path_factory.mktemp("torch")
    for name, extra in (("loose", ()), ("sharded", ("writer.layout=webdataset", "writer.shard_size=3", "export=[]"))):
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose(config_name="generate", overrides=[*SMALL_RUN, f"out={root / name}", f"n={N}", "seed=2", *extra])
        generate_from_config(cfg)
    return root


def _same(a, b):
    (image_a, target_a), (image_b, target_b) = a, b
    assert torch.equal(image_a, image_b)
    assert target_a.keys() == target_b.keys()
    for key in target_a:
        assert torch.equal(torch.as_tensor(target_a[key]), torch.as_tensor(target_b[key])), key


def test_store_items_are_tv_tensors_and_shards_read_the_same(stores):
    loose, sharded = StoreDataset(stores / "loose"), StoreDataset(stores / "sharded")
    assert len(loose) == len(sharded) == N
    image, target = loose[0]
    assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8 and image.shape == (3, 72, 96)
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and target["boxes"].format.name == "XYXY"
    assert isinstance(target["masks"], tv_tensors.Mask) and target["masks"].shape[1:] == (72, 96)
    assert len(target["labels"]) == len(target["boxes"]) == len(target["masks"]) > 0
    for k in range(N):
        _same(loose[k], sharded[k])
    record = loose.labeled_image(0)  # every label, typed
    assert record.objects[0].cuboid is not None and record.camera is not None


def test_v2_transforms_move_boxes_and_masks_with_the_image(stores):
    flip = StoreDataset(stores / "loose", transforms=T.RandomHorizontalFlip(p=1.0))
    (image, target), (flipped, moved) = StoreDataset(stores / "loose")[1], flip[1]
    assert torch.equal(flipped, image.flip(-1)) and torch.equal(moved["masks"], target["masks"].flip(-1))
    assert torch.allclose(moved["boxes"][:, 0], 96 - target["boxes"][:, 2])


@pytest.mark.realdata
def test_a_real_coco_set_reads_with_keypoint_free_targets():
    dataset = StoreDataset(FRUITS)
    image, target = dataset[0]
    assert image.shape[0] == 3 and len(target["boxes"]) > 0 and "keypoints" not in target
    assert {c.name for c in dataset.categories} >= {"date", "fig", "hazelnut"}


def test_streaming_gives_generates_samples_in_workers_and_caches_its_bytes(stores, tmp_path):
    stream = StreamingDataset(n=N, seed=2, overrides=[*SMALL_RUN, "progress=false"], cache=tmp_path / "cache")
    loader = torch.utils.data.DataLoader(stream, batch_size=1, num_workers=2, collate_fn=collate_detection,
                                         multiprocessing_context="spawn")
    streamed = [(images[0], targets[0]) for images, targets in loader]
    stored = StoreDataset(stores / "loose")
    assert [target["image_id"] for _, target in streamed] == list(range(N))
    for k in range(N):
        _same(streamed[k], stored[k])
    written, generated = tree_bytes(tmp_path / "cache"), tree_bytes(stores / "loose", skip=("annotations", "exports"))
    assert written.keys() - {"manifest.json"} == generated.keys() - {"manifest.json"}
    assert [name for name in written if name != "manifest.json" and written[name] != generated[name]] == []
    # a second pass reads the cache (in this process): the same items
    for k, item in enumerate(stream):
        _same(item, stored[k])


def test_one_training_step_of_a_torchvision_detector(stores):
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    dataset = StoreDataset(stores / "sharded")
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None,
                                                  num_classes=1 + max(c.id for c in dataset.categories))
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate_detection)
    images, targets = next(iter(loader))
    model.train()
    losses = model([image.float() / 255 for image in images], targets)
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total) and total.item() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_sequences_are_refused_by_the_stream():
    from synthgen.core.errors import ConfigError

    with pytest.raises(ConfigError, match="sequence.frames"):
        StreamingDataset(overrides=["sequence.frames=3"])
