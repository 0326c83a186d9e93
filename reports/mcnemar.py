"""Pairwise McNemar tests on per-image test predictions, with Holm's correction.

The test itself (exact, two-sided) is :func:`models.significance.exact_p_value`, shared with the
search, which uses it to decide whether its best trial beats the configured parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from models.significance import discordant, exact_p_value


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
    counts = [discordant(right[a], right[b]) for a, b in pairs]
    raw = [exact_p_value(n_a, n_b) for n_a, n_b in counts]
    adjusted = holm(raw)
    return [
        McNemar(a, b, n_a, n_b, p, p_adj, p_adj < alpha)
        for (a, b), (n_a, n_b), p, p_adj in zip(pairs, counts, raw, adjusted, strict=True)
    ]
