"""The webdataset layout: tar shards written by generate, read by webdataset's own reader, unpacked
byte for byte, exported from a store, merged and resumed like loose stores."""

import tarfile

import pytest
import webdataset

from synthgen.core.errors import ConfigError, InputError
from synthgen.io.formats import read_dataset
from synthgen.io.shards import ShardIndex, unpack_store
from synthgen.pipeline.generation import generate_from_config
from synthgen.pipeline.merge import MergeSettings, merge_shard_stores
from tests.conftest import SMALL_RUN
from tests.helpers_files import tree_bytes

SHARDED = ("writer.layout=webdataset", "writer.shard_size=2", "export=[]", "seed=3")


def _generate(generate_cfg, out, *overrides):
    return generate_from_config(generate_cfg(*SMALL_RUN, f"out={out}", *overrides))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A loose run and a sharded run of the same 5 samples."""
    from hydra import compose, initialize_config_dir

    from synthgen.paths import conf_dir

    def cfg(*overrides):
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(config_name="generate", overrides=list(overrides))

    root = tmp_path_factory.mktemp("shards")
    generate_from_config(cfg(*SMALL_RUN, f"out={root / 'loose'}", "n=5", "seed=3", "export=[webdataset]",
                             "export.webdataset.shard_size=2"))
    generate_from_config(cfg(*SMALL_RUN, f"out={root / 'sharded'}", "n=5", *SHARDED))
    return root


def test_generate_packs_complete_shards_with_fixed_metadata(runs):
    sharded = runs / "sharded"
    assert sorted(p.name for p in (sharded / "shards").iterdir()) == ["000000.tar", "000001.tar", "000002.tar"]
    assert not (sharded / "images").exists() and not (sharded / "labels").exists()
    with tarfile.open(sharded / "shards" / "000000.tar") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["000000.png", "000000.depth.png", "000000.instance_ids.png",
                                         "000000.semantic.png", "000000.json", "000001.png", "000001.depth.png",
                                         "000001.instance_ids.png", "000001.semantic.png", "000001.json"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(0, 0, 0, "", 0o644)}
    # export=[webdataset] of a loose store writes the same shards
    exported = runs / "loose" / "exports" / "webdataset" / "shards"
    for tar in (sharded / "shards").iterdir():
        assert (exported / tar.name).read_bytes() == tar.read_bytes()


def test_webdatasets_reader_reads_every_sample(runs):
    loose = runs / "loose"
    samples = list(webdataset.WebDataset(str(runs / "sharded" / "shards" / "{000000..000002}.tar"),
                                         shardshuffle=False).decode("rgb8"))
    assert [s["__key__"] for s in samples] == [f"{i:06d}" for i in range(5)]
    import numpy as np
    from PIL import Image

    for sample in samples:
        assert sample["json"]["index"] == int(sample["__key__"])
        with Image.open(loose / sample["json"]["files"]["image"]) as image:
            assert np.array_equal(sample["png"], np.asarray(image.convert("RGB")))
        assert {"depth.png", "instance_ids.png", "semantic.png"} <= set(sample)


def test_unpacking_restores_the_loose_store_byte_for_byte(runs, tmp_path):
    unpack_store(runs / "sharded", tmp_path / "unpacked")
    unpacked, loose = tree_bytes(tmp_path / "unpacked"), tree_bytes(runs / "loose", skip=("annotations", "exports"))
    assert unpacked.keys() == loose.keys()
    assert [name for name in loose if loose[name] != unpacked[name] and name != "manifest.json"] == []


def test_merged_shard_runs_and_a_resumed_run_equal_one_run(runs, generate_cfg, tmp_path):
    for shard in (0, 1):
        _generate(generate_cfg, tmp_path / f"s{shard}", "n=5", *SHARDED, f"shard={shard}", "num_shards=2")
    merged = merge_shard_stores(MergeSettings([str(tmp_path / "s0"), str(tmp_path / "s1")], str(tmp_path / "m")))
    _generate(generate_cfg, tmp_path / "r", "n=3", *SHARDED)
    _generate(generate_cfg, tmp_path / "r", "n=5", *SHARDED, "resume=true")
    single = tree_bytes(runs / "sharded")
    assert tree_bytes(merged) == single
    assert tree_bytes(tmp_path / "r") == single


def test_shard_stores_refuse_what_cannot_work(runs, generate_cfg, tmp_path):
    with pytest.raises(InputError, match="packed in tar shards"):
        read_dataset(runs / "sharded")
    with pytest.raises(ConfigError, match="export: with writer.layout=webdataset"):
        _generate(generate_cfg, tmp_path / "x", "n=1", "writer.layout=webdataset")
    broken = tmp_path / "broken"
    (broken / "shards").mkdir(parents=True)
    (broken / "shards" / "000000.tar").write_bytes(b"not a tar" * 100)
    with pytest.raises(InputError, match="000000.tar"):
        ShardIndex(broken)
    import io

    foreign = tmp_path / "foreign"
    (foreign / "shards").mkdir(parents=True)
    with tarfile.open(foreign / "shards" / "000000.tar", "w") as archive:  # a record that is not a synthgen record
        for name, data in (("000000.png", b"png"), ("000000.json", b"[1, 2]")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(InputError, match="000000.tar"):
        unpack_store(foreign, tmp_path / "loose_copy")


def test_shards_are_packed_as_they_complete(runs, tmp_path):
    """While a run goes, a shard is packed once all its indices are committed; the rest stay loose."""
    import shutil

    from synthgen.io.shards import ShardPacker

    store = tmp_path / "store"
    shutil.copytree(runs / "loose", store)
    in_flight = store / "labels" / "000003.json"
    in_flight.unlink()  # index 3 is still being made: shard 1 (indices 2, 3) is not complete
    packer = ShardPacker(store, 2, range(5))
    assert [p.name for p in packer.pack_ready()] == ["000000.tar", "000002.tar"]
    assert not (store / "labels" / "000000.json").exists() and not (store / "images" / "000001.png").exists()
    assert (store / "labels" / "000002.json").exists() and (store / "images" / "000002.png").exists()
    shutil.copy(runs / "loose" / "labels" / "000003.json", in_flight)  # committed now
    assert [p.name for p in packer.pack_ready()] == ["000001.tar"] and packer.pack_ready() == []
    for tar in (runs / "sharded" / "shards").iterdir():
        assert (store / "shards" / tar.name).read_bytes() == tar.read_bytes()
    assert packer.packed_indices() == set(range(5))


def test_a_resume_finishes_deleting_what_a_killed_packer_left_loose(runs, generate_cfg, tmp_path):
    """Killed after a tar was written but before its loose copies went: the resumed run drops
    them (the tar holds the same bytes) and counts each sample once."""
    import shutil

    from synthgen.io.manifest import read_manifest

    store = tmp_path / "store"
    shutil.copytree(runs / "sharded", store)
    for folder in ("images", "labels"):  # sample 0's loose copies are back, as if never deleted
        (store / folder).mkdir(exist_ok=True)
    shutil.copy(runs / "loose" / "images" / "000000.png", store / "images")
    shutil.copy(runs / "loose" / "labels" / "000000.json", store / "labels")
    summary = _generate(generate_cfg, store, "n=5", *SHARDED, "resume=true")
    assert summary.rendered == 0 and summary.images == read_manifest(runs / "sharded")["counts"]["images"]
    assert tree_bytes(store) == tree_bytes(runs / "sharded")
