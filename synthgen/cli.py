"""Command line: ``synthgen <command> [hydra overrides...]``.

Each command is a thin ``@hydra.main`` wrapper around a pipeline function; the
configs live in synthgen's ``conf/`` folder. Errors meant for users (bad config
values, unusable paths) print one line and exit with status 2.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from synthgen.errors import SynthgenError
from synthgen.paths import conf_dir

__all__ = ["main"]

_CONF = str(conf_dir())
_USAGE = """usage: synthgen <command> [key=value ...]

commands:
  generate   render a labeled dataset (config: conf/generate.yaml)
  export     write a dataset as coco|yolo|voc|kitti|labelstudio|gold (config: conf/export_command.yaml)
  mix        combine synthetic and real datasets into a training set (config: conf/mix.yaml)
  preview    a labeled gallery (PNG + HTML) of any readable dataset (config: conf/preview.yaml)
  merge      shard stores (generate shard=i num_shards=K) into one dataset (config: conf/merge.yaml)

examples:
  synthgen generate
  synthgen export format=yolo in=synthgen_out out=synthgen_yolo task=segment
  synthgen mix synthetic=[synthgen_out] real=[path/to/coco] out=mixed synthetic_per_real=10
  synthgen preview in=synthgen_out out=preview
  synthgen generate out=data/run1 n=200 seed=7 render.width=640 render.height=480 scene=tabletop
  synthgen generate --cfg job          # print the composed config and exit
  synthgen generate --help             # Hydra help: config groups and options
"""


def _run_reporting_errors(function, cfg: DictConfig) -> None:
    try:
        function(cfg)
    except SynthgenError as error:
        print(f"synthgen: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        # Samples in flight were finished before the interrupt propagated; nothing is partial.
        print(
            f"synthgen: interrupted; committed samples in {cfg.get('out')} are kept. "
            "Run the same command with resume=true to complete the dataset.",
            file=sys.stderr,
        )
        sys.exit(130)


@hydra.main(version_base="1.3", config_path=_CONF, config_name="generate")
def _generate(cfg: DictConfig) -> None:
    from synthgen.pipeline import generate

    _run_reporting_errors(generate, cfg)


def _reporting_written(command: str, function):
    """Run ``function(cfg)`` and report the path it returns."""

    def run(cfg: DictConfig) -> None:
        print(f"synthgen {command}: wrote {function(cfg)}", file=sys.stderr)

    return run


@hydra.main(version_base="1.3", config_path=_CONF, config_name="export_command")
def _export(cfg: DictConfig) -> None:
    from synthgen.io.export import export_dataset

    _run_reporting_errors(_reporting_written("export", export_dataset), cfg)


@hydra.main(version_base="1.3", config_path=_CONF, config_name="mix")
def _mix(cfg: DictConfig) -> None:
    from synthgen.mix.mixer import mix

    _run_reporting_errors(_reporting_written("mix", mix), cfg)


@hydra.main(version_base="1.3", config_path=_CONF, config_name="preview")
def _preview(cfg: DictConfig) -> None:
    from synthgen.preview import preview

    _run_reporting_errors(_reporting_written("preview", preview), cfg)


@hydra.main(version_base="1.3", config_path=_CONF, config_name="merge")
def _merge(cfg: DictConfig) -> None:
    from synthgen.merge import merge_shards

    _run_reporting_errors(_reporting_written("merge", merge_shards), cfg)


_COMMANDS = {"generate": _generate, "export": _export, "mix": _mix, "preview": _preview, "merge": _merge}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``synthgen`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_USAGE)
        return
    command = args.pop(0)
    if command not in _COMMANDS:
        print(f"synthgen: unknown command {command!r}; choose one of {sorted(_COMMANDS)}\n\n{_USAGE}", file=sys.stderr)
        sys.exit(2)
    # Hydra reads its overrides from sys.argv.
    sys.argv = [f"synthgen {command}", *args]
    _COMMANDS[command]()


if __name__ == "__main__":
    main()
