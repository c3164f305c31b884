"""Worker processes, crash recovery and termination: the dataset is the same however it was made."""

import dataclasses
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from synthgen.commands.generate import generate
from tests.conftest import SMALL_RUN

pytestmark = pytest.mark.slow


def _hashes(root):
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def test_any_worker_count_gives_byte_identical_datasets(generate_cfg, tmp_path):
    one = generate(generate_cfg(*SMALL_RUN, f"out={tmp_path / 'one'}", "n=8", "seed=3", "workers=1"))
    two = generate(generate_cfg(*SMALL_RUN, f"out={tmp_path / 'two'}", "n=8", "seed=3", "workers=2", "recycle_after=3"))
    first, second = _hashes(tmp_path / "one"), _hashes(tmp_path / "two")
    assert first == second and sum(name.startswith("labels/") for name in first) == 8
    # One render loop for both: the same stages are reported.
    assert set(one.stage_ms) == set(two.stage_ms) >= {"sample (cpu)", "render", "labels+checks (cpu)"}


def test_pooled_patterns_and_shared_photo_caches_keep_worker_counts_identical(generate_cfg, tmp_path):
    """The fruit scenes draw their cloth from a pattern pool and read photos through caches every
    randomizer of a process shares: what a process happens to hold must not change a byte."""
    from tests.resources import FRUITS, need

    if not FRUITS.is_dir():
        need("realdata")
    common = ("scene=tabletop_fruits_photos", f"scene.randomize.skins.texture_dataset={FRUITS}",
              "scene.randomize.cloth.pattern_pool=3", "scene.randomize.cloth.dataset_probability=0.5",
              "render.width=96", "render.height=72", "progress=false", "n=6", "seed=4")
    generate(generate_cfg(*common, f"out={tmp_path / 'one'}", "workers=1"))
    generate(generate_cfg(*common, f"out={tmp_path / 'two'}", "workers=2", "recycle_after=2"))
    first, second = _hashes(tmp_path / "one"), _hashes(tmp_path / "two")
    assert first == second and sum(name.startswith("labels/") for name in first) == 6


def _start(tmp_path, *args):
    executable = os.path.join(os.path.dirname(sys.executable), "synthgen")
    return subprocess.Popen([executable, "generate", "out=ds", "render.width=96", "render.height=72", *args],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_labels(root, count):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (root / "labels").is_dir() and len(list((root / "labels").glob("*.json"))) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} samples committed in time")


def test_kill_9_then_resume_equals_an_uninterrupted_run(generate_cfg, tmp_path):
    process = _start(tmp_path, "n=40", "workers=2", "seed=5")
    _wait_for_labels(tmp_path / "ds", 4)
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group: no worker survives to finish
    process.communicate(timeout=60)
    committed = len(list((tmp_path / "ds" / "labels").glob("*.json")))
    assert 4 <= committed < 40
    generate(generate_cfg(f"out={tmp_path / 'ds'}", "render.width=96", "render.height=72", "n=40", "seed=5",
                          "resume=true", "progress=false"))
    generate(generate_cfg(f"out={tmp_path / 'clean'}", "render.width=96", "render.height=72", "n=40", "seed=5",
                          "progress=false"))
    assert _hashes(tmp_path / "ds") == _hashes(tmp_path / "clean")


def test_sigterm_finishes_samples_in_flight_and_says_how_to_resume(tmp_path):
    process = _start(tmp_path, "n=500", "workers=2")
    _wait_for_labels(tmp_path / "ds", 3)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "resume=true" in stderr and "Traceback" not in stderr
    assert not list((tmp_path / "ds").rglob(".*tmp-*"))
    assert 3 <= len(list((tmp_path / "ds" / "labels").glob("*.json"))) < 500


def _merge(*overrides):
    from hydra import compose, initialize_config_dir

    from synthgen.commands.merge import merge_shards
    from synthgen.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return merge_shards(compose(config_name="merge", overrides=list(overrides)))


def test_shards_merged_equal_a_single_run(generate_cfg, tmp_path):
    common = (*SMALL_RUN, "n=7", "seed=2", "export=[coco,yolo]")
    generate(generate_cfg(*common, f"out={tmp_path / 'single'}"))
    for shard in (0, 1, 2):
        generate(generate_cfg(*common, f"out={tmp_path / 'shards' / str(shard)}", f"shard={shard}", "num_shards=3"))
    assert len(list((tmp_path / "shards" / "1" / "labels").glob("*.json"))) == 2  # indices 1 and 4
    shards = ",".join(str(tmp_path / "shards" / str(i)) for i in (2, 0, 1))
    merged = _merge(f"in=[{shards}]", f"out={tmp_path / 'merged'}", "n=7")
    assert _hashes(merged) == _hashes(tmp_path / "single")


def test_merge_lists_each_shard_once_however_many_indices(generate_cfg, tmp_path, monkeypatch):
    """Merging must not re-list a shard per index (that made it quadratic: 34 s for 4,000 indices)."""
    from pathlib import Path

    listings = []
    original_glob = Path.glob

    def counting_glob(self, pattern):
        listings.append(self.name)
        return original_glob(self, pattern)

    counts = {}
    for n in (4, 12):
        for shard in (0, 1):
            generate(generate_cfg(*SMALL_RUN, f"n={n}", f"out={tmp_path / str(n) / str(shard)}",
                                  f"shard={shard}", "num_shards=2"))
        listings.clear()
        monkeypatch.setattr(Path, "glob", counting_glob)
        _merge(f"in=[{tmp_path / str(n) / '0'},{tmp_path / str(n) / '1'}]", f"out={tmp_path / str(n) / 'merged'}")
        monkeypatch.setattr(Path, "glob", original_glob)
        counts[n] = listings.count("labels") + listings.count("quarantine")
        assert len(list((tmp_path / str(n) / "merged" / "labels").glob("*.json"))) == n
    assert counts[12] == counts[4] <= 8, counts


def test_merge_refuses_missing_duplicate_and_foreign_shards(generate_cfg, tmp_path):
    import pytest

    from synthgen.core.errors import InputError

    for shard in (0, 1):
        generate(generate_cfg(*SMALL_RUN, "n=4", f"out={tmp_path / str(shard)}", f"shard={shard}", "num_shards=2"))
    generate(generate_cfg(*SMALL_RUN, "n=4", "seed=9", f"out={tmp_path / 'other'}", "shard=1", "num_shards=2"))
    with pytest.raises(InputError, match=r"indices missing from the shards: \[1, 3\]"):
        _merge(f"in=[{tmp_path / '0'}]", f"out={tmp_path / 'm1'}", "n=4")
    with pytest.raises(InputError, match=r"indices committed by more than one shard: 0 "):
        _merge(f"in=[{tmp_path / '0'},{tmp_path / '0'},{tmp_path / '1'}]", f"out={tmp_path / 'm2'}")
    with pytest.raises(InputError, match=r"made with another config .*\n  seed: 0 -> 9"):
        _merge(f"in=[{tmp_path / '0'},{tmp_path / 'other'}]", f"out={tmp_path / 'm3'}")
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists() and not (tmp_path / "m3").exists()


def test_joblib_multirun_shards_merge_into_the_single_run(tmp_path):
    executable = os.path.join(os.path.dirname(sys.executable), "synthgen")
    size = ("render.width=96", "render.height=72", "n=6", "seed=4")
    result = subprocess.run([executable, "generate", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                             "shard=0,1", "num_shards=2", "out=shards/${shard}", *size],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([executable, "generate", "out=single", *size], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    merged = _merge(f"in=[{tmp_path / 'shards' / '0'},{tmp_path / 'shards' / '1'}]", f"out={tmp_path / 'merged'}")
    assert _hashes(merged) == _hashes(tmp_path / "single")


def test_slurm_launcher_config_composes_for_a_sharded_sweep():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from synthgen.paths import conf_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate", return_hydra_config=True,
                      overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "num_shards=64"])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.partition == "gpu" and launcher.array_parallelism == 64 and launcher.cpus_per_task == 4


def test_a_full_disk_is_one_clear_error_and_committed_samples_survive(tmp_path):
    import resource

    executable = os.path.join(os.path.dirname(sys.executable), "synthgen")
    size = ("render.width=160", "render.height=120", "seed=6")
    first = subprocess.run([executable, "generate", "out=ds", "n=2", *size], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = _hashes(tmp_path / "ds")

    def small_files():  # every file larger than 8 KiB fails to write, as on a full disk (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    result = subprocess.run([executable, "generate", "out=ds", "n=4", "resume=true", *size], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "cannot write (File too large); free disk space or fix permissions" in result.stderr
    after = _hashes(tmp_path / "ds")
    assert {name: after[name] for name in before if name != "manifest.json"} == {
        name: before[name] for name in before if name != "manifest.json"}
    assert not list((tmp_path / "ds").rglob(".*tmp-*"))
    done = subprocess.run([executable, "generate", "out=ds", "n=4", "resume=true", *size], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "ds" / "labels").glob("*.json"))) == 4


def test_merge_refuses_a_foreign_target_in_a_shard_manifest(generate_cfg, tmp_path):
    import json

    import pytest

    from synthgen.core.errors import ConfigError

    generate(generate_cfg(*SMALL_RUN, "n=2", f"out={tmp_path / 'a'}"))
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest["config"]["export"] = {"evil": {"_target_": "os.system", "command": "true"}}
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=r"export.evil._target_: 'os.system' is not allowed"):
        _merge(f"in=[{tmp_path / 'a'}]", f"out={tmp_path / 'merged'}")
    assert not (tmp_path / "merged").exists()


def test_ray_tasks_shards_merge_into_the_single_run(generate_cfg, tmp_path):
    import ray

    from synthgen.pipeline.shards import generate_shards_on_ray

    common = ["render.width=96", "render.height=72", "n=5", "seed=8"]
    # A local Ray for this test only, with its session files in a short temporary folder
    # (Ray's socket paths have a length limit), removed afterwards.
    ray_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=ray_dir)
    try:
        shards = generate_shards_on_ray(common, 2, str(tmp_path / "shards" / "{shard}"))
    finally:
        ray.shutdown()
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert [p.name for p in shards] == ["0", "1"]
    generate(generate_cfg(*common, f"out={tmp_path / 'single'}", "progress=false"))
    merged = _merge(f"in=[{shards[0]},{shards[1]}]", f"out={tmp_path / 'merged'}")
    assert _hashes(merged) == _hashes(tmp_path / "single")


def test_concurrent_identical_runs_give_identical_bytes():
    """Two runs at a time of `generate n=6 seed=11` (the README's 640x480 scene) used to differ in
    2 pixels of images/000004.png in 6 of 8 runs: pyrender summed the lights in memory-address
    order. scripts/stress_determinism.py compares every file of every run with the first's."""
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "stress_determinism.py"
    result = subprocess.run([sys.executable, str(script), "runs=4", "parallel=2"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "identical 4/4", result.stdout


def test_lights_and_meshes_are_listed_in_the_samples_own_order(two_cubes):
    from synthgen.core import Light
    from synthgen.render.pyrender_backend import PyrenderRenderer

    lights = tuple(Light("directional", (1.0, 1.0, 1.0), 1.0 + i, direction=(0.1 * i, 0.2, -1.0)) for i in range(6))
    renderer = PyrenderRenderer(64, 64)
    for spec in (dataclasses.replace(two_cubes, lights=lights), dataclasses.replace(two_cubes, lights=lights[::-1])):
        renderer.render(spec, amodal=False)
        scene = renderer._scene  # noqa: SLF001 - the order pyrender sees is what is tested
        assert [node.light.intensity for node in scene.light_nodes] == [light.intensity for light in spec.lights]
