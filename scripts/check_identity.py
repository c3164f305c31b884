"""Byte-identity across code changes: the same config and seed must give the same files.

Usage:
    python scripts/check_identity.py --out hashes.json                # this checkout
    python scripts/check_identity.py --code /tmp/old --out old.json   # another checkout's synthgen
    python scripts/check_identity.py --compare old.json hashes.json   # which files differ

Runs ``synthgen generate`` on every shipped scene (``conf/scene/*.yaml``; small images, a few
samples, every export format that accepts the scene), plus the paste generator, the sensor
augmenter, a clip (sequence exports), and ``synthgen export`` of a real dataset into every
format; hashes every file but the manifests (which record how a run went). A format that
refuses a dataset is recorded with its one-line error, so a change in what is refused
shows too. ``--compare`` prints each differing file and ends with ``identical K/N``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SIZE = ["render.width=160", "render.height=120", "progress=false", "seed=5"]
FORMATS = ("coco", "yolo", "voc", "kitti", "labelstudio", "gold", "mot", "cvat", "bop")


def _cases() -> dict[str, list[str]]:
    """Case name -> generate overrides."""
    scenes = sorted(path.stem for path in (REPO / "conf" / "scene").glob("*.yaml"))
    fruits = SHARED_DATA / "fruits_nuts"
    needs = {"tabletop_fruits_photos": [f"scene.randomize.skins.texture_dataset={fruits}"]}
    cases = {f"scene_{scene}": [f"scene={scene}", "n=3", *needs.get(scene, [])] for scene in scenes}
    cases["paste"] = ["generator=paste", f"generator.dataset={fruits}", "n=3", "scene=tabletop_fruits"]
    cases["augment_sensor"] = ["augment=sensor", "n=3"]
    cases["clip"] = ["n=1", "sequence.frames=3"]
    return cases


def _run(command: list[str], code: Path) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=str(code))
    return subprocess.run([sys.executable, "-m", "synthgen.cli", *command], cwd=code, env=environment,
                          capture_output=True, text=True)


def _hashes(root: Path, prefix: str) -> dict[str, str]:
    return {f"{prefix}/{path.relative_to(root).as_posix()}": hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and path.name != "manifest.json"}


def _last_line(result: subprocess.CompletedProcess) -> str:
    """The error's last line, the run's scratch folder left out (it differs between runs)."""
    lines = (result.stderr or result.stdout).strip().splitlines()
    return re.sub(r"/tmp/tmp[^/]+/", "<work>/", lines[-1]) if lines else f"exit {result.returncode}"


def _export_all(source: Path, work: Path, name: str, code: Path) -> dict[str, str]:
    hashes = {}
    for format in FORMATS:
        out = work / f"{name}_{format}"
        result = _run(["export", f"format={format}", f"in={source}", f"out={out}"], code)
        if result.returncode:
            hashes[f"{name}/export_{format}"] = "refused: " + _last_line(result)
        else:
            hashes.update(_hashes(out, f"{name}/export_{format}"))
    return hashes


def _link_package_data(code: Path) -> None:
    """Another checkout's ``conf/`` as its package's ``synthgen.conf`` (else an editable install of
    this checkout would lend it this checkout's configs). Scene assets stay this checkout's: a mesh
    file's model name hashes its path, so both runs must read the same files to compare."""
    link = code / "synthgen" / "conf"
    if not link.exists():
        link.symlink_to(code / "conf", target_is_directory=True)


def measure(code: Path, only: list[str] | None = None) -> dict[str, str]:
    """Hashes of every case's files (or the cases named in ``only``), run with the synthgen of checkout ``code``."""
    if code != REPO:
        _link_package_data(code)
    hashes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, overrides in _cases().items():
            if only and name not in only:
                continue
            out = work / name
            result = _run(["generate", f"out={out}", *SIZE, *overrides], code)
            if result.returncode:
                hashes[name] = "failed: " + _last_line(result)
                print(f"{name}: failed: {_last_line(result)}", flush=True)
                continue
            hashes.update(_hashes(out, name))
            hashes.update(_export_all(out, work, name, code))
            print(f"{name}: {sum(key.startswith(name + '/') for key in hashes)} files", flush=True)
        if not only or "real_fruits_nuts" in only:
            hashes.update(_export_all(SHARED_DATA / "fruits_nuts", work, "real_fruits_nuts", code))
    return hashes


def compare(old: dict[str, str], new: dict[str, str]) -> int:
    """Print the differing entries; returns how many differ."""
    differing = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    for key in differing:
        print(f"differs: {key}: {old.get(key, 'missing')[:60]} -> {new.get(key, 'missing')[:60]}")
    print(f"identical {len(set(old) | set(new)) - len(differing)}/{len(set(old) | set(new))}")
    return len(differing)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose synthgen runs")
    parser.add_argument("--out", type=Path, help="write the hashes here (JSON)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    parser.add_argument("--only", nargs="+", help="run only these cases (names as printed); with --out, "
                        "their entries replace those in an existing file")
    args = parser.parse_args(argv)
    if args.compare:
        old, new = (json.loads(path.read_text()) for path in args.compare)
        raise SystemExit(1 if compare(old, new) else 0)
    hashes = measure(args.code.resolve(), args.only)
    if args.only and args.out and args.out.exists():
        earlier = json.loads(args.out.read_text())
        kept = {key: value for key, value in earlier.items() if key.split("/")[0] not in args.only}
        hashes = {**kept, **hashes}
    text = json.dumps(hashes, indent=1, sort_keys=True)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
