"""Command line: ``synthgen <command> [hydra overrides...]``.

Each command is a thin ``@hydra.main`` wrapper around a pipeline function; the
configs live in synthgen's ``conf/`` folder. Errors meant for users (bad config
values, unusable paths) print one line and exit with status 2.
"""

from __future__ import annotations

import importlib
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
  export     write a dataset as coco|yolo|voc|kitti|labelstudio|gold|mot|cvat (config: conf/export_command.yaml)
  mix        combine synthetic and real datasets into a training set (config: conf/mix.yaml)
  preview    a labeled gallery (PNG + HTML; GIF per clip of a sequence) of any readable dataset (config: conf/preview.yaml)
  merge      shard stores (generate shard=i num_shards=K) into one dataset (config: conf/merge.yaml)
  validate   sim-to-real gap of a synthetic vs a real dataset (+ train-on-synthetic-test-on-real detectors): metrics.json + report.html (conf/validate.yaml)

examples:
  synthgen generate
  synthgen export format=yolo in=synthgen_out out=synthgen_yolo task=segment
  synthgen mix synthetic=[synthgen_out] real=[path/to/coco] out=mixed synthetic_per_real=10
  synthgen preview in=synthgen_out out=preview
  synthgen generate out=data/run1 n=200 seed=7 render.width=640 render.height=480 scene=tabletop
  synthgen generate sequence.frames=24 sequence.fps=12 n=10 out=clips export=[coco,mot,cvat]
  synthgen generate generator=inpaint_background generator.model=DIR/sd-inpaint out=realistic
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


def _reporting_command(command: str, config_name: str, module: str, function: str):
    """A ``@hydra.main`` entry point that runs ``module.function(cfg)`` and reports the path it wrote.

    The module is imported when the command runs, so ``synthgen generate`` loads nothing else.
    """

    @hydra.main(version_base="1.3", config_path=_CONF, config_name=config_name)
    def run(cfg: DictConfig) -> None:
        implementation = getattr(importlib.import_module(module), function)

        def report(config: DictConfig) -> None:
            print(f"synthgen {command}: wrote {implementation(config)}", file=sys.stderr)

        _run_reporting_errors(report, cfg)

    return run


_COMMANDS = {
    "generate": _generate,
    "export": _reporting_command("export", "export_command", "synthgen.io.export", "export_dataset"),
    "mix": _reporting_command("mix", "mix", "synthgen.mix.mixer", "mix"),
    "preview": _reporting_command("preview", "preview", "synthgen.preview", "preview"),
    "merge": _reporting_command("merge", "merge", "synthgen.merge", "merge_shards"),
    "validate": _reporting_command("validate", "validate", "synthgen.validate.report", "validate"),
}


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
