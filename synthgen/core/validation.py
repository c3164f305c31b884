"""Argument checks for component constructors (a constructor is its config schema).

Each helper raises ``ConfigError`` whose message starts with the argument name, so the
registry can prefix the config path: ``render.width: must be an integer >= 16, got 0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from synthgen.core.errors import ConfigError

__all__ = ["check_choice", "check_choices", "check_list", "check_number", "check_range_pair", "check_vector", "is_number"]


def is_number(value) -> bool:
    """A real number (int or float), not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(
    name: str,
    value,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    exclusive_minimum: bool = False,
) -> float | int:
    """Return ``value`` if it is a number within bounds (never NaN), else raise ``ConfigError``."""
    kind = "an integer" if integer else "a number"
    valid_type = isinstance(value, int) and not isinstance(value, bool) if integer else is_number(value) and value == value
    too_small = minimum is not None and valid_type and (
        value <= minimum if exclusive_minimum else value < minimum
    )
    too_large = maximum is not None and valid_type and value > maximum
    if not valid_type or too_small or too_large:
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
        if maximum is not None:
            bounds.append(f"<= {maximum}")
        suffix = f" {' and '.join(bounds)}" if bounds else ""
        raise ConfigError(f"{name}: must be {kind}{suffix}, got {value!r}")
    return value


def check_choice(name: str, value, choices: Iterable):
    """Return ``value`` if it is one of ``choices``, else raise ``ConfigError``."""
    allowed = list(choices)
    if value not in allowed:
        raise ConfigError(f"{name}: must be one of {allowed}, got {value!r}")
    return value


def check_choices(name: str, values, choices: Iterable, *, allow_empty: bool = False) -> tuple:
    """Return ``values`` as a tuple if it is a list of items from ``choices``, else raise ``ConfigError``."""
    allowed = list(choices)
    if isinstance(values, str) or not isinstance(values, Sequence) or (not values and not allow_empty):
        raise ConfigError(f"{name}: must be a {'' if allow_empty else 'non-empty '}list from {allowed}, got {values!r}")
    for value in values:
        if value not in allowed:
            raise ConfigError(f"{name}: unknown value {value!r}; choose from {allowed}")
    return tuple(values)


def check_range_pair(
    name: str, value, *, minimum: float | None = None, maximum: float | None = None, integer: bool = False
) -> tuple:
    """Return ``(low, high)`` for a ``[low, high]`` range (a scalar means a fixed value)."""
    pair = (value, value) if is_number(value) else value
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        raise ConfigError(f"{name}: must be a number or a [min, max] pair, got {value!r}")
    low = check_number(f"{name}[0]", pair[0], minimum=minimum, maximum=maximum, integer=integer)
    high = check_number(f"{name}[1]", pair[1], minimum=minimum, maximum=maximum, integer=integer)
    if low > high:
        raise ConfigError(f"{name}: min must not exceed max, got [{low}, {high}]")
    return low, high


def check_vector(name: str, value, length: int, *, minimum: float | None = None, maximum: float | None = None) -> tuple:
    """Return ``value`` as a tuple of ``length`` numbers within bounds."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != length:
        raise ConfigError(f"{name}: must be a list of {length} numbers, got {value!r}")
    return tuple(check_number(f"{name}[{i}]", item, minimum=minimum, maximum=maximum) for i, item in enumerate(value))


def check_list(name: str, value, *, example: str = "[a,b]") -> list[str]:
    """A list-valued key as a list of strings; one value given alone (``synthgen mix
    synthetic=runs/a``) is a one-element list, as the user meant. None is the empty list."""
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    if not isinstance(value, Sequence) or isinstance(value, Mapping):
        raise ConfigError(f"{name}: must be a list, e.g. {name}={example}, got {value!r}")
    return [str(item) for item in value]
