"""Shards as Ray tasks: ``generate_shards_on_ray`` runs one generation per shard on a Ray cluster.

Each task composes the same config (conf/generate.yaml plus the overrides) with its
``shard`` and ``num_shards`` and writes its own store; ``synthgen merge`` assembles them.
Ray schedules the tasks (local Ray by default, or ``address="auto"`` / a cluster address).
Needs ``pip install 'synthgen[cluster]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number

__all__ = ["generate_shards_on_ray"]


def _run_shard(overrides: list[str], shard: int, num_shards: int, out: str) -> str:
    from hydra import compose, initialize_config_dir

    from synthgen.paths import conf_dir
    from synthgen.pipeline.generation import generate_from_config

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="generate",
                      overrides=[*overrides, f"shard={shard}", f"num_shards={num_shards}", f"out={out}", "progress=false"])
    return str(generate_from_config(cfg).out)


def generate_shards_on_ray(overrides: Sequence[str], num_shards: int, out_pattern: str,
                           address: str | None = None, cpus_per_shard: float = 1.0) -> list[Path]:
    """Generate ``num_shards`` shard stores as Ray tasks.

    Args:
        overrides: ``generate`` overrides shared by every shard (``n=...``, ``scene=...``).
        num_shards: Number of shards (tasks).
        out_pattern: Each shard's folder, with ``{shard}`` for its number, e.g. ``shards/{shard}``.
        address: Ray cluster address; None starts (or joins) a local Ray.
        cpus_per_shard: CPUs Ray reserves per task.

    Returns:
        The shard folders, in shard order.
    """
    try:
        import ray
    except ImportError as error:
        raise ConfigError("ray: not installed; pip install 'synthgen[cluster]' (or pip install ray)") from error
    check_number("num_shards", num_shards, minimum=1, integer=True)
    if "{shard}" not in out_pattern:
        raise ConfigError(f"out_pattern: must contain {{shard}} so shards write separate stores, got {out_pattern!r}")
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    task = ray.remote(num_cpus=cpus_per_shard)(_run_shard)
    futures = [task.remote(list(overrides), shard, num_shards, out_pattern.format(shard=shard))
               for shard in range(num_shards)]
    return [Path(path) for path in ray.get(futures)]
