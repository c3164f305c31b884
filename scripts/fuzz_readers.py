"""Fuzz every dataset reader: N mutated copies of a valid dataset per format, each read in a
child process; prints the outcomes per reader (clean error / sane data / failures).

    python scripts/fuzz_readers.py --cases 500                  # this checkout
    python scripts/fuzz_readers.py --cases 500 --code /tmp/old  # another checkout's synthgen (before/after)

Outcomes (see tests/fuzzing.py): error (a SynthgenError naming the dataset), data (read and
sane), and the failures unexpected, unnamed, insane, crash, hang. Cases are drawn from
``random.Random(seed * 1_000_003 + case)``: the same seed gives the same datasets, so two
checkouts are compared on identical inputs. Exit status 1 if any failure was seen.
"""

from __future__ import annotations

import argparse
import collections
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzzing import FAILURES, FORMATS, Worker, build_bases, case_folder, mutate_dataset  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="mutated datasets per reader")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--code", type=Path, default=None,
                        help="a checkout whose synthgen the worker imports (default: this one)")
    parser.add_argument("--examples", type=int, default=3, help="failure examples printed per reader and outcome")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fuzz-readers-"))
    bases = build_bases(work / "bases", args.formats)
    worker_cwd = Path(__file__).resolve().parent.parent
    if args.code is not None:  # the other checkout gets this worker beside its own synthgen
        shutil.copy(worker_cwd / "tests" / "fuzz_worker.py", args.code / "tests" / "fuzz_worker.py")
        worker_cwd = args.code.resolve()
    worker = Worker(cwd=worker_cwd)
    failed = False
    print(f"{'reader':<12} {'cases':>6} {'error':>6} {'data':>6} " + " ".join(f"{f:>10}" for f in FAILURES) + "   s")
    examples: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for name in args.formats:
        counts = collections.Counter()
        start = time.perf_counter()
        for number in range(args.cases):
            rng = random.Random(args.seed * 1_000_003 + number)
            root = case_folder(bases[name][0], work / "cases", number)
            done = mutate_dataset(root, rng)
            result = worker.read(name, root)
            counts[result["outcome"]] += 1
            if result["outcome"] in FAILURES and len(examples[(name, result["outcome"])]) < args.examples:
                examples[(name, result["outcome"])].append(f"case {number} ({', '.join(done)}): {result['message'][:300]}")
            shutil.rmtree(root.parent, ignore_errors=True)
        failed |= any(counts[f] for f in FAILURES)
        print(f"{name:<12} {args.cases:>6} {counts['error']:>6} {counts['data']:>6} "
              + " ".join(f"{counts[f]:>10}" for f in FAILURES) + f"   {time.perf_counter() - start:.0f}")
    worker.close()
    for (name, outcome), lines in sorted(examples.items()):
        print(f"\n{name} {outcome}:")
        for line in lines:
            print(f"  {line}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
