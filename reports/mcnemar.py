"""Pairwise McNemar tests on per-image test predictions, with Holm's correction.

Two models scored on the same images differ significantly when one is right where the other is
wrong much more often than the reverse. The exact (binomial) test is used at every sample size:
it needs no continuity correction and stays valid when few images are discordant.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class McNemar:
    a: str
    b: str
    only_a_right: int  # images model a classifies correctly and model b does not
    only_b_right: int
    p_value: float  # exact two-sided McNemar test
    p_holm: float  # adjusted for every pair in the family (Holm-Bonferroni)
    significant: bool  # p_holm < alpha

    @property
    def better(self) -> str | None:
        """The model right on more discordant images, when the difference is significant."""
        if not self.significant:
            return None
        return self.a if self.only_a_right > self.only_b_right else self.b


def exact_p_value(only_a_right: int, only_b_right: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs at 1/2.

    Binomial(n, 1/2) is symmetric, so the two-sided p-value is twice the smaller tail (capped at
    1). Summed in exact integers: a few thousand discordant images cost milliseconds.
    """
    n = only_a_right + only_b_right
    term = tail = 1  # C(n, 0)
    for k in range(min(only_a_right, only_b_right)):
        term = term * (n - k) // (k + 1)  # C(n, k + 1), exact
        tail += term
    return min(1.0, 2 * tail / 2**n)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def pairwise(y_true: np.ndarray, predictions: dict[str, np.ndarray], alpha: float) -> list[McNemar]:
    """Every pair of ``predictions`` (model -> labels, aligned with ``y_true``), in input order."""
    right = {name: np.asarray(pred) == np.asarray(y_true) for name, pred in predictions.items()}
    pairs = list(combinations(right, 2))
    counts = [
        (int(np.sum(right[a] & ~right[b])), int(np.sum(right[b] & ~right[a]))) for a, b in pairs
    ]
    raw = [exact_p_value(n_a, n_b) for n_a, n_b in counts]
    adjusted = holm(raw)
    return [
        McNemar(a, b, n_a, n_b, p, p_adj, p_adj < alpha)
        for (a, b), (n_a, n_b), p, p_adj in zip(pairs, counts, raw, adjusted, strict=True)
    ]
