"""Jinja2 rendering: the templates in ``reports/templates`` and the filters that format numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
MISSING = "—"


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage without the sign (column headers say %)."""
    return MISSING if _absent(value) else f"{100 * value:.{digits}f}"


def interval(bounds: list[float] | None) -> str:
    return "" if not bounds else f"[{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"


def number(value: float | None, digits: int = 2) -> str:
    if _absent(value):
        return MISSING
    return f"{value:,.0f}" if float(value).is_integer() and digits == 0 else f"{value:,.{digits}f}"


def size(n_bytes: float | None) -> str:
    if _absent(n_bytes):
        return MISSING
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes:.0f} B"


def sort_value(value: Any) -> str:
    """The raw value for ``data-v`` (sorting, tests): JSON text, empty when absent."""
    return "" if _absent(value) else json.dumps(value)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,  # a misspelt field fails the stage instead of rendering blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {
        "pct": pct,
        "interval": interval,
        "number": number,
        "size": size,
        "v": sort_value,
    }
    return env


def render(context: dict[str, Any], template: str = "report.html.j2") -> str:
    return environment().get_template(template).render(**context)
