"""Cross-entropy search over the unit cube (Rubinstein's method, diagonal Gaussian).

Each round draws ``population - 1`` candidates around the current mean (plus the mean
itself), scores them all, and moves the mean and standard deviation to those of the
``elite`` best, smoothed with the previous round so one noisy batch cannot collapse
the search. The best candidate seen in any round is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SearchResult", "cross_entropy_search"]

_SMOOTHING = 0.7  # weight of the elite's statistics against the previous round's
_MIN_STD = 0.02


@dataclass
class SearchResult:
    """The best vector found, its score, and every round's candidates and scores."""

    best: np.ndarray
    best_score: float
    rounds: list[dict] = field(default_factory=list)


def cross_entropy_search(score: Callable[[Sequence[np.ndarray]], list[float]], start: np.ndarray, start_score: float,
                         rng: np.random.Generator, rounds: int, population: int, elite: int,
                         initial_std: float) -> SearchResult:
    """Minimise ``score`` from ``start``.

    Args:
        score: Candidates (each a (D,) vector in 0..1) -> their scores, lower is better.
        start: (D,) float64 starting mean in 0..1.
        start_score: ``score`` of ``start`` (already known to the caller).
        rng: Draws the candidates.
        rounds: Rounds of ``population`` candidates.
        population: Candidates per round (the mean included).
        elite: Best candidates the next round's distribution is fitted to.
        initial_std: Standard deviation of the first round, in unit-cube coordinates.

    Returns:
        The best vector and score (``start`` if nothing beats it) and per round the
        ``mean``, ``std``, ``candidates`` and ``scores``.
    """
    mean = np.asarray(start, dtype=np.float64)
    std = np.full_like(mean, initial_std)
    result = SearchResult(mean.copy(), float(start_score))
    for number in range(rounds):
        draws = np.clip(mean + std * rng.standard_normal((population - 1, len(mean))), 0.0, 1.0)
        candidates = [mean.copy(), *draws]
        scores = [float(s) for s in score(candidates)]
        result.rounds.append({"round": number + 1, "mean": mean.tolist(), "std": std.tolist(),
                              "candidates": [c.tolist() for c in candidates], "scores": scores})
        order = np.argsort(scores, kind="stable")
        if scores[order[0]] < result.best_score:
            result.best, result.best_score = candidates[order[0]].copy(), scores[order[0]]
        chosen = np.array([candidates[i] for i in order[:elite]])
        mean = _SMOOTHING * chosen.mean(axis=0) + (1 - _SMOOTHING) * mean
        std = np.maximum(_SMOOTHING * chosen.std(axis=0) + (1 - _SMOOTHING) * std, _MIN_STD)
    return result
