"""Hyper-parameter specs: what values each estimator accepts, used to validate ``params.yaml``.

A spec checks a single value (defaults, grid entries, categorical choices) and the bounds of an
Optuna distribution, and describes what it expects in words, so that a bad ``params.yaml`` fails
before any work starts with the key path and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Scalar = bool | int | float | str | None
Kind = Literal["int", "float", "choice", "bool"]


@dataclass(frozen=True)
class Hyper:
    """Values one hyper-parameter accepts: a kind, optional bounds, choices and special values."""

    kind: Kind
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: tuple[Scalar, ...] = ()  # the values of a `choice`
    special: tuple[Scalar, ...] = ()  # extra non-numeric values a number accepts ("scale", None)
    help: str = ""

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is valid: a listed special value, a choice, a bool, or a finite number
        of the right kind inside the bounds (bool is never a number; an int is a valid float)."""
        if value in self.special and _same_type_as_member(value, self.special):
            return True
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return _same_type_as_member(value, self.choices) and value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        return math.isfinite(value) and self._in_range(value)

    def _in_range(self, value: float) -> bool:
        return (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
        )

    def expected(self) -> str:
        """What the spec accepts, in words (e.g. "an integer >= 1 and <= 1000 or null")."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(_show(c) for c in self.choices)
        bounds = []
        if self.ge is not None:
            bounds.append(f">= {_num(self.ge)}")
        if self.gt is not None:
            bounds.append(f"> {_num(self.gt)}")
        if self.le is not None:
            bounds.append(f"<= {_num(self.le)}")
        text = ("an integer" if self.kind == "int" else "a number") + (
            " " + " and ".join(bounds) if bounds else ""
        )
        if self.special:
            text += " or " + " or ".join(_show(s) for s in self.special)
        return text


def _same_type_as_member(value: object, members: Sequence[Scalar]) -> bool:
    """`True == 1` in Python; a spec that lists 1 must not accept `true`, nor 1.0 stand for "1"."""
    return any(type(value) is type(m) or (value is None and m is None) for m in members)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _show(value: Scalar) -> str:
    return "null" if value is None else repr(value)


# --- checks of params.yaml values, returning "key: problem" lines -----------------------------


def _unknown(name: str, hypers: Mapping[str, Hyper], where: str) -> str:
    return f"{where}.{name}: unknown hyper-parameter; expected one of {', '.join(hypers)}"


def check_values(
    values: Mapping[str, object], hypers: Mapping[str, Hyper], where: str
) -> list[str]:
    """Problems with fixed hyper-parameter values (a model's `params`).

    Parameters
    ----------
    values : Mapping of str to object
        Hyper-parameter name to value.
    hypers : Mapping of str to Hyper
        The model's specs.
    where : str
        Key path prefixed to each problem (e.g. ``models.knn.params``).

    Returns
    -------
    list of str
        One ``"<where>.<name>: ..."`` line per unknown name or rejected value; empty if all
        are fine.
    """
    problems = []
    for name, value in values.items():
        spec = hypers.get(name)
        if spec is None:
            problems.append(_unknown(name, hypers, where))
        elif not spec.accepts(value):
            problems.append(f"{where}.{name}: got {_show(value)}; expected {spec.expected()}")
    return problems


def check_grid(
    grid: Mapping[str, Sequence[object]], hypers: Mapping[str, Hyper], where: str
) -> list[str]:
    """Problems with a grid: each key a known hyper-parameter with a non-empty list of values.

    Parameters
    ----------
    grid : Mapping of str to sequence
        Hyper-parameter name to the values to try.
    hypers : Mapping of str to Hyper
        The model's specs.
    where : str
        Key path prefixed to each problem.

    Returns
    -------
    list of str
        One line per empty grid, unknown name, empty list or rejected value (with its index);
        empty if all are fine.
    """
    if not grid:
        return [f"{where}: the grid is empty; expected a hyper-parameter with a list of values"]
    problems = []
    for name, values in grid.items():
        spec = hypers.get(name)
        if spec is None:
            problems.append(_unknown(name, hypers, where))
            continue
        if len(values) == 0:
            problems.append(f"{where}.{name}: empty list; expected at least one value")
        for i, value in enumerate(values):
            if not spec.accepts(value):
                problems.append(
                    f"{where}.{name}[{i}]: got {_show(value)}; expected {spec.expected()}"
                )
    return problems


def check_distribution(name: str, dist: Mapping[str, object], spec: Hyper, where: str) -> list[str]:
    """Problems with one Optuna distribution (`type` int / float / categorical) for ``spec``.

    Parameters
    ----------
    name : str
        Hyper-parameter name.
    dist : Mapping of str to object
        ``{"type": "categorical", "choices": [...]}`` or ``{"type": "int" | "float", "low": ..,
        "high": .., "log": bool (optional)}``.
    spec : Hyper
        What the hyper-parameter accepts.
    where : str
        Key path prefixed to each problem.

    Returns
    -------
    list of str
        One line per rejected choice or bound, a numeric type for a choice/bool spec, a float
        type for an int spec, ``low > high``, or a log scale with ``low <= 0``.

    Raises
    ------
    KeyError
        If ``dist`` lacks ``type``, or the keys its type needs (``choices``; ``low``, ``high``).
    """
    key = f"{where}.{name}"
    kind = dist["type"]
    if kind == "categorical":
        return [
            f"{key}.choices[{i}]: got {_show(v)}; expected {spec.expected()}"
            for i, v in enumerate(dist["choices"])
            if not spec.accepts(v)
        ]
    if spec.kind in ("bool", "choice"):
        return [
            f"{key}.type: got {kind!r}; {name} takes {spec.expected()}, so use type: categorical"
        ]
    if kind == "float" and spec.kind == "int":
        return [f"{key}.type: got 'float'; {name} takes {spec.expected()}, so use type: int"]
    problems = []
    low, high = dist["low"], dist["high"]
    for bound, value in (("low", low), ("high", high)):
        if not spec.accepts(value):
            problems.append(f"{key}.{bound}: got {_show(value)}; expected {spec.expected()}")
    if low > high:
        problems.append(f"{key}: low ({_show(low)}) is above high ({_show(high)})")
    if dist.get("log") and low <= 0:
        problems.append(f"{key}.low: got {_show(low)}; a log scale needs low > 0")
    return problems


def check_space(
    space: Mapping[str, Mapping[str, object]], hypers: Mapping[str, Hyper], where: str
) -> list[str]:
    """Problems with an Optuna search space: each key a known hyper-parameter with a valid
    distribution (see :func:`check_distribution`).

    Parameters
    ----------
    space : Mapping of str to Mapping
        Hyper-parameter name to its distribution.
    hypers : Mapping of str to Hyper
        The model's specs.
    where : str
        Key path prefixed to each problem.

    Returns
    -------
    list of str
        One line per empty space, unknown name or distribution problem; empty if valid.

    Raises
    ------
    KeyError
        As :func:`check_distribution`, for a distribution that lacks a required key.
    """
    if not space:
        return [f"{where}: the search space is empty; expected at least one hyper-parameter"]
    problems = []
    for name, dist in space.items():
        spec = hypers.get(name)
        if spec is None:
            problems.append(_unknown(name, hypers, where))
        else:
            problems.extend(check_distribution(name, dist, spec, where))
    return problems
