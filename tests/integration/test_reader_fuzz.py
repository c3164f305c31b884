"""Property-based fuzzing of every dataset reader (hypothesis drives tests.fuzzing's mutations).

Each example is a valid dataset of one format, mutated 1-3 times (hostile values, deleted keys,
duplicated entries, NaN tokens, non-UTF-8 bytes, truncated or lying images, symlinks out of
the folder or in a loop, folders where files were...), and read in a child process. The only
allowed outcomes: a SynthgenError whose message names the dataset, or data that passes the
sanity checks of ``tests.fuzz_worker.sanity_problems``. A native crash or a hang fails the
test with the example. The default suite runs a few dozen examples per reader; ``-m fuzz``
runs many more (``.ci/run`` does). Both are derandomized: every run reads the same datasets.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import FAILURES, FORMATS, Worker, build_bases, case_folder, mutate_dataset

QUICK_EXAMPLES = 25
DEEP_EXAMPLES = 5000
_numbers = itertools.count()


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    return build_bases(tmp_path_factory.mktemp("fuzz-bases"))


@pytest.fixture(scope="module")
def worker():
    child = Worker(timeout_s=30.0)
    yield child
    child.close()


def _read_mutated(format, rng, bases, worker, work):
    root = case_folder(bases[format][0], work, next(_numbers))
    done = mutate_dataset(root, rng)
    result = worker.read(format, root)
    assert result["outcome"] not in FAILURES, f"{format} after {done}: {result['outcome']}: {result['message']}"
    return result


# Seeds of the mutations' random.Random (scripts/fuzz_readers.py draws the same way): integers, not
# st.randoms(), whose float draws fail once a library in the process has set flush-to-zero.
_SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
_SETTINGS = {"deadline": None, "derandomize": True, "database": None,
             "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@pytest.mark.parametrize("format", FORMATS)
@settings(max_examples=QUICK_EXAMPLES, **_SETTINGS)
@given(seed=_SEEDS)
def test_a_mutated_dataset_reads_sane_or_fails_clearly(format, seed, bases, worker, tmp_path_factory):
    _read_mutated(format, random.Random(seed), bases, worker, tmp_path_factory.getbasetemp() / "fuzz-quick")


@pytest.mark.fuzz
@pytest.mark.parametrize("format", FORMATS)
@settings(max_examples=DEEP_EXAMPLES, **_SETTINGS)
@given(seed=_SEEDS)
def test_many_mutated_datasets_read_sane_or_fail_clearly(format, seed, bases, worker, tmp_path_factory):
    _read_mutated(format, random.Random(seed), bases, worker, tmp_path_factory.getbasetemp() / "fuzz-deep")


def test_the_harness_sees_clean_reads_crashes_and_hangs(bases, tmp_path):
    """The harness itself: an unmutated dataset is sane data; a child that dies is a crash and one
    that never answers a hang (not a pass), and the next case gets a fresh child."""
    child = Worker(timeout_s=2.0)
    try:
        for format in FORMATS:
            result = child.read(format, case_folder(bases[format][0], tmp_path, 0))
            assert result["outcome"] == "data" and result["objects"] > 0, (format, result)
        assert child.read("__abort__", tmp_path)["outcome"] == "crash"
        assert child.read("__hang__", tmp_path)["outcome"] == "hang"
        assert child.read("coco", case_folder(bases["coco"][0], tmp_path, 1))["outcome"] == "data"
    finally:
        child.close()
