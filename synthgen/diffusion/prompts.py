"""Prompt templates with randomized text: domain randomization in language (numpy only)."""

from __future__ import annotations

import collections
import string
from collections.abc import Mapping, Sequence

import numpy as np

from synthgen.core import Sample
from synthgen.core.errors import ConfigError

__all__ = ["PromptTemplate", "describe_objects"]

DEFAULT_TEMPLATE = "a photo of {objects} on {surface}, {lighting}, {style}"
DEFAULT_CHOICES = {
    "surface": ["a wooden table", "a kitchen counter", "a concrete floor", "a white desk", "a cloth tablecloth"],
    "lighting": ["soft daylight", "warm indoor light", "harsh overhead light", "evening light", "studio lighting"],
    "style": ["photorealistic", "DSLR photo", "smartphone photo", "high detail", "natural colours"],
    "background": ["a kitchen", "an office", "a workshop", "a living room", "a warehouse"],
}
_NUMBERS = ["no", "a", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _plural(name: str) -> str:
    return name if name.endswith("s") else name + "es" if name.endswith(("sh", "ch", "x")) else name + "s"


def describe_objects(sample: Sample) -> str:
    """The labeled objects in words, most frequent first: ``"two mugs, a ball and a cube"``."""
    counts = collections.Counter(instance.category.replace("_", " ") for instance in sample.instances)
    if not counts:
        return "an empty scene"
    parts = [f"{_NUMBERS[n] if n < len(_NUMBERS) else n} {_plural(name) if n > 1 else name}"
             for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class PromptTemplate:
    """A prompt with fields filled per sample.

    ``{objects}`` is the sample's labeled objects in words; every other field is drawn
    uniformly from its list of ``choices`` with the sample's generator.

    Args:
        template: Python format string, e.g. ``"a photo of {objects} on {surface}, {lighting}"``.
        choices: Field name -> list of texts (defaults cover surface, lighting, style, background).
        negative: Negative prompt (what the image must not look like).
    """

    def __init__(self, template: str = DEFAULT_TEMPLATE, choices: Mapping[str, Sequence[str]] | None = None,
                 negative: str = "cartoon, drawing, blurry, distorted, text, watermark"):
        self.template = template
        self.choices = {key: list(values) for key, values in {**DEFAULT_CHOICES, **(choices or {})}.items()}
        self.negative = negative
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        unknown = sorted(fields - set(self.choices) - {"objects"})
        if unknown:
            raise ConfigError(f"prompt.template: field {{{unknown[0]}}} has no choices; add prompt.choices.{unknown[0]}"
                              f" (known: objects, {', '.join(sorted(self.choices))})")
        empty = sorted(name for name in fields - {"objects"} if not self.choices[name])
        if empty:
            raise ConfigError(f"prompt.choices.{empty[0]}: needs at least one text")
        self.fields = sorted(fields - {"objects"})

    def __call__(self, sample: Sample, rng: np.random.Generator) -> str:
        """The prompt of one sample (draws one choice per field, in field-name order)."""
        values = {name: self.choices[name][int(rng.integers(len(self.choices[name])))] for name in self.fields}
        return self.template.format(objects=describe_objects(sample), **values)
