"""Command-line arguments of the benchmark and stress scripts: ``key=value`` options with defaults,
everything else passed on as ``synthgen generate`` overrides (or refused)."""

from __future__ import annotations

__all__ = ["options_and_overrides"]


def options_and_overrides(argv: list[str], defaults: dict[str, str],
                          overrides: bool = True) -> tuple[dict[str, str], list[str]]:
    """The script's options (``defaults`` updated from ``argv``) and the remaining arguments.

    Raises:
        SystemExit: An argument is not one of the options and ``overrides`` is false.
    """
    options, rest = dict(defaults), []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key in options:
            options[key] = value
        elif overrides:
            rest.append(arg)
        else:
            raise SystemExit(f"unknown argument {arg!r}; allowed: {sorted(options)}")
    return options, rest
