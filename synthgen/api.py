"""The Python API: every command, callable with keyword overrides, no Hydra code needed.

Each function composes the command's config exactly as the CLI does (the same
``conf/<command>.yaml``, the same overrides) and runs the same function, so
``synthgen.generate(n=5, out="data")`` writes the same bytes as
``synthgen generate n=5 out=data``:

    import synthgen

    summary = synthgen.generate(scene="tabletop_fruits", n=100, out="data", overrides=["render.width=320"])
    synthgen.export("yolo", source="data", out="data_yolo", task="segment")
    synthgen.mix(synthetic=["data"], real=["photos_coco"], out="mixed", real_fraction=0.1)
    cfg = synthgen.compose("generate", ["scene=road", "n=10"])   # the composed config, to inspect or edit

Keyword values become Hydra overrides: strings are quoted (paths with spaces work), lists
and tuples become ``[a,b]``, dicts ``{k: v}``, ``None`` ``null``. A keyword sets a key the
config already has (or picks a config group's option, such as ``scene``); give new keys,
deletions and anything else Hydra accepts as strings in ``overrides``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig

from synthgen.core.errors import ConfigError
from synthgen.paths import conf_dir
from synthgen.pipeline.generation import GenerateSummary

__all__ = ["COMMANDS", "compose", "export", "generate", "merge", "mix", "override_value", "preview", "validate"]

# command -> (its config in conf/, module of synthgen.commands, function): the CLI's table too.
COMMANDS = {
    "generate": ("generate", "generate", "generate"),
    "export": ("export_command", "export", "export_dataset"),
    "mix": ("mix", "mix", "mix"),
    "preview": ("preview", "preview", "preview"),
    "merge": ("merge", "merge", "merge_shards"),
    "validate": ("validate", "validate", "validate"),
    "fit": ("fit", "fit", "fit"),
    "qa": ("qa", "qa", "qa"),
    "prelabel": ("prelabel", "prelabel", "prelabel"),
}


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def override_value(value: object) -> str:
    """A Python value as a Hydra override value: ``True`` -> ``true``, ``"a b"`` -> ``'a b'``,
    ``[1, "x"]`` -> ``[1,'x']``, ``{"a": 1}`` -> ``{a:1}``, ``None`` -> ``null``.

    Raises:
        ConfigError: The value has no override form (an object other than str, Path,
            bool, int, float, None, list, tuple or dict).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return _quoted(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{override_value(item)}" for key, item in value.items()) + "}"
    raise ConfigError(f"{value!r}: cannot be a config value (use str, number, bool, None, list or dict)")


def _keyword_overrides(keys: Mapping[str, object], prefix: str = "") -> list[str]:
    return [f"{prefix}{key}={override_value(value)}" for key, value in keys.items()]


def compose(command: str = "generate", overrides: Sequence[str] = (), config_dir: str | Path | None = None) -> DictConfig:
    """The composed config of a command, as ``synthgen COMMAND OVERRIDES...`` would run it.

    Args:
        command: One of ``COMMANDS`` (``generate``, ``export``, ``mix``, ``validate``, ...).
        overrides: Hydra overrides, e.g. ``["scene=road", "n=10", "+scene.extra=1"]``.
        config_dir: A folder of your own configs (like the CLI's ``--config-dir``): its
            groups (``scene/mine.yaml``) are found beside synthgen's own.

    Returns:
        The composed config (no ``hydra`` node), ready for ``generate(config)``.

    Raises:
        ConfigError: Unknown command, a missing config dir, or an override Hydra rejects
            (the message is Hydra's: it names the key or option).
    """
    if command not in COMMANDS:
        raise ConfigError(f"command: must be one of {sorted(COMMANDS)}, got {command!r}")
    overrides = [str(item) for item in overrides]
    if config_dir is not None:
        folder = Path(config_dir).expanduser().resolve()
        if not folder.is_dir():
            raise ConfigError(f"config_dir={config_dir}: not a folder; give the folder holding your config groups")
        overrides.insert(0, f"hydra.searchpath=[{_quoted(folder.as_uri())}]")
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return hydra_compose(COMMANDS[command][0], overrides=overrides)
    except HydraException as error:
        raise ConfigError(f"synthgen {command}: {error}") from error


def _run(command: str, config: DictConfig | Mapping | None, overrides: Sequence[str], config_dir, keys: list[str]):
    if config is None:
        config = compose(command, [*keys, *overrides], config_dir)
    elif keys or overrides:
        raise ConfigError(f"synthgen.{command}: give a composed config or keyword overrides, not both")
    _, module, function = COMMANDS[command]
    implementation = getattr(importlib.import_module(f"synthgen.commands.{module}"), function)
    return implementation(config)


def generate(config: DictConfig | Mapping | None = None, *, overrides: Sequence[str] = (),
             config_dir: str | Path | None = None, **keys: object) -> GenerateSummary:
    """Render a labeled dataset, as ``synthgen generate`` does.

    Args:
        config: A composed generate config (``compose("generate", ...)``); or leave it
            out and give keywords.
        overrides: Further Hydra overrides (``["render.width=320", "+scene.x=1"]``).
        config_dir: A folder of your own configs (``scene/mine.yaml``).
        **keys: Keys of conf/generate.yaml: ``scene="road"``, ``n=100``, ``out="data"``,
            ``seed=3``, ``workers=2``, ``export=["coco", "yolo"]``.

    Returns:
        GenerateSummary: what was produced (``out``, ``images``, ``instances``, ...).

    Raises:
        ConfigError: An unknown key, option or bad value (the message names it).
        InputError: The output folder or an input file cannot be used.
    """
    return _run("generate", config, overrides, config_dir, _keyword_overrides(keys))


def export(format: str = "coco", *, source: str | Path, out: str | Path, overwrite: bool = False,
           overrides: Sequence[str] = (), **options: object) -> Path:
    """Write a dataset in another format, as ``synthgen export`` does.

    Args:
        format: A format that writes (``synthgen --help`` lists them).
        source: A synthgen dataset, or any dataset synthgen reads (the CLI's ``in=``).
        out: An empty folder (``overwrite=True`` replaces an earlier export).
        overwrite: Replace an earlier export in ``out``.
        overrides: Further Hydra overrides.
        **options: The format's options (``task="segment"`` for YOLO), checked by its writer.

    Returns:
        The main file or folder written.
    """
    keys = _keyword_overrides({"format": format, "in": source, "out": out, "overwrite": overwrite})
    return _run("export", None, overrides, None, keys + _keyword_overrides(options, prefix="+options."))


def mix(*, overrides: Sequence[str] = (), config_dir: str | Path | None = None, **keys: object) -> Path:
    """Combine synthetic and real datasets into a training set, as ``synthgen mix`` does.

    Args:
        overrides: Further Hydra overrides.
        config_dir: A folder of your own configs.
        **keys: Keys of conf/mix.yaml: ``synthetic=[...]``, ``real=[...]``, ``out=...``,
            ``real_fraction=0.1``, ``format="yolo"``, ...

    Returns:
        What it wrote.
    """
    return _run("mix", None, overrides, config_dir, _keyword_overrides(keys))


def validate(*, overrides: Sequence[str] = (), config_dir: str | Path | None = None, **keys: object) -> Path:
    """The sim-to-real gap report, as ``synthgen validate`` does (needs the ``validate`` extra for features).

    Args:
        overrides: Further Hydra overrides (``["tstr.enabled=true"]``).
        config_dir: A folder of your own configs.
        **keys: Keys of conf/validate.yaml: ``synthetic=...``, ``real=...``, ``out=...``,
            ``features=None`` (label statistics only), ...

    Returns:
        The report folder.
    """
    return _run("validate", None, overrides, config_dir, _keyword_overrides(keys))


def _source_as_in(keys: dict) -> dict:
    """``in`` is a Python keyword: the API's ``source`` is the config's ``in``."""
    return {("in" if key == "source" else key): value for key, value in keys.items()}


def preview(*, overrides: Sequence[str] = (), **keys: object) -> Path:
    """A labeled gallery of any readable dataset, as ``synthgen preview`` does.

    Args:
        overrides: Further Hydra overrides.
        **keys: Keys of conf/preview.yaml, with ``source`` for ``in``: ``source="data"``, ``out="gallery"``, ``n=16``.
    """
    return _run("preview", None, overrides, None, _keyword_overrides(_source_as_in(keys)))


def merge(*, overrides: Sequence[str] = (), **keys: object) -> Path:
    """Merge shard stores into one dataset, as ``synthgen merge`` does.

    Args:
        overrides: Further Hydra overrides.
        **keys: Keys of conf/merge.yaml, with ``source`` for ``in``: ``source=["s0", "s1"]``, ``out="all"``.
    """
    return _run("merge", None, overrides, None, _keyword_overrides(_source_as_in(keys)))
