"""Command line: ``synthgen <command> [hydra overrides...]``; dispatch only.

Each command is a ``@hydra.main`` wrapper around a function of ``synthgen.commands``,
imported when that command runs (so ``synthgen preview`` does not load the renderer);
the configs live in synthgen's ``conf/``. Errors meant for users (bad config values,
unusable paths) print one line and exit with status 2.
"""

from __future__ import annotations

import importlib
import re
import sys

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

from synthgen.api import COMMANDS
from synthgen.core.errors import SynthgenError
from synthgen.paths import conf_dir

__all__ = ["main"]

_CONF = str(conf_dir())
_USAGE = """usage: synthgen <command> [key=value ...]

commands:
  generate   render a labeled dataset (config: conf/generate.yaml)
  export     write a dataset in another format (config: conf/export_command.yaml; formats below)
  mix        combine synthetic and real datasets into a training set (config: conf/mix.yaml)
  preview    a labeled gallery (PNG + HTML; GIF per clip of a sequence) of any readable dataset
             (config: conf/preview.yaml)
  merge      shard stores (generate shard=i num_shards=K) into one dataset (config: conf/merge.yaml)
  fit        move a scene's randomization ranges towards a real dataset's statistics:
             out/scene/<scene>_fit.yaml + fit_report.json/html (conf/fit.yaml)
  prelabel   pre-label real images with a detector trained on synthetic (+ real) data, ordered for review:
             Label Studio tasks + COCO results (conf/prelabel.yaml)
  qa         annotators' accuracy on gold tasks and their agreement: qa.json + qa.html (conf/qa.yaml)
  validate   sim-to-real gap of a synthetic vs a real dataset (+ train-on-synthetic-test-on-real detectors):
             metrics.json + report.html (conf/validate.yaml)

examples:
  synthgen generate
  synthgen export format=yolo in=synthgen_out out=synthgen_yolo task=segment
  synthgen mix synthetic=[synthgen_out] real=[path/to/coco] out=mixed synthetic_per_real=10
  synthgen preview in=synthgen_out out=preview
  synthgen generate out=data/run1 n=200 seed=7 render.width=640 render.height=480 scene=tabletop
  synthgen generate sequence.frames=24 sequence.fps=12 n=10 out=clips export=[coco,mot,cvat]
  synthgen generate generator=inpaint_background generator.model=DIR/sd-inpaint out=realistic
  synthgen fit scene=tabletop_fruits real=../shared/data/fruits_nuts out=fitted
  synthgen generate --config-dir fitted scene=tabletop_fruits_fit out=fitted_data
  synthgen prelabel train=[fitted_data] images=photos/ out=prelabels
  synthgen qa annotations=project_export.json gold=gold_export out=qa_report
  synthgen generate --cfg job          # print the composed config and exit
  synthgen generate --help             # Hydra help: config groups and options
"""
# generate's config groups whose options are components (one module + one yaml each: the yaml's folder is their registry).
_COMPONENT_GROUPS = ("scene", "render", "generator", "augment", "motion")


def _usage() -> str:
    """The usage text with the registered formats and each component group's options (read when shown)."""
    from synthgen.io.formats import FORMATS

    formats = [f"  {f.name:<12} {'/'.join(('read',) * bool(f.read) + ('write',) * f.writes):<11} {f.summary}"
               + (f" [needs {f.needs}]" if f.needs else "") for f in FORMATS]
    groups = [f"  {group:<12} {', '.join(sorted(path.stem for path in (conf_dir() / group).glob('*.yaml')))}"
              for group in _COMPONENT_GROUPS]
    return (_USAGE + "\ngenerate's components (synthgen generate GROUP=NAME):\n" + "\n".join(groups)
            + "\n\nformats (synthgen export format=NAME [option=value ...]; generate export=[NAME, ...]):\n"
            + "\n".join(formats))


def _format_options(args: list[str]) -> list[str]:
    """``synthgen export``'s format options given as plain ``key=value`` (``task=segment``) as
    ``+options.key=value``: the chosen format's writer takes them, and its constructor checks them."""
    # The export command's own keys are conf/export_command.yaml's; any other plain key is the format's.
    own = set(OmegaConf.load(conf_dir() / "export_command.yaml")) - {"defaults", "hydra"}
    rewritten = []
    for arg in args:
        key, equals, value = arg.partition("=")
        plain = equals and key.isidentifier() and key not in own
        rewritten.append(f"+options.{key}={value}" if plain else arg)
    return rewritten


# What each command prints when done (generate prints its own summary).
_DONE_VERB = {command: "wrote" for command in COMMANDS} | {"generate": None}


def _run_reporting_errors(command: str, cfg: DictConfig) -> None:
    _, module, function = COMMANDS[command]
    verb = _DONE_VERB[command]
    implementation = getattr(importlib.import_module(f"synthgen.commands.{module}"), function)
    try:
        result = implementation(cfg)
    except SynthgenError as error:
        print(f"synthgen: error: {error}", file=sys.stderr)
        sys.exit(2)
    except (MissingMandatoryValue, InterpolationToMissingValueError) as error:
        # A config value left as ??? (one the user must give), reached directly or through ${...}.
        named = re.search(r"Missing mandatory value: (\S+)", str(error))
        key = named.group(1) if named else getattr(error, "full_key", "?")
        print(f"synthgen: error: {key}: this value must be given; add {key}=... to the command line", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        # Samples in flight were finished before the interrupt propagated; nothing is partial.
        print(
            f"synthgen: interrupted; committed samples in {cfg.get('out')} are kept. "
            "Run the same command with resume=true to complete the dataset.",
            file=sys.stderr,
        )
        sys.exit(130)
    if verb:
        print(f"synthgen {command}: {verb} {result}", file=sys.stderr)


def _entry_point(command: str):
    """The ``@hydra.main`` function of a command (Hydra reads its overrides from sys.argv)."""

    @hydra.main(version_base="1.3", config_path=_CONF, config_name=COMMANDS[command][0])
    def run(cfg: DictConfig) -> None:
        _run_reporting_errors(command, cfg)

    return run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``synthgen`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    command = args.pop(0)
    if command not in COMMANDS:
        print(f"synthgen: unknown command {command!r}; choose one of {sorted(COMMANDS)}\n\n{_usage()}", file=sys.stderr)
        sys.exit(2)
    if command == "export":
        args = _format_options(args)
    sys.argv = [f"synthgen {command}", *args]
    _entry_point(command)()


if __name__ == "__main__":
    main()
