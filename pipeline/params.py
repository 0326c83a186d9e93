"""``params.yaml``: its schema, and validation on load with the key path of every bad value.

Every stage loads the whole file through :func:`load_params`, so a bad value anywhere fails before
any work starts, with a message such as::

    params.yaml: invalid parameters
      - data.dev_fraction: got 1.5; Input should be less than 1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_PARAMS = Path("params.yaml")
AUGMENT_MODES = ("balanced", "full")
AUGMENT_OPS = ("flip", "brightness", "contrast")


class ParamsError(ValueError):
    """``params.yaml`` is missing, unreadable or has bad values; the message names each key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class DataParams(_Section):
    source: Literal["auto", "csv", "synthetic"] = "auto"
    # Kaggle's fer2013.csv (.csv or .csv.gz). `auto` uses it when it (or its .gz) exists.
    csv: Path = Path("data/raw/fer2013.csv")
    synthetic_rows: Annotated[int, Field(ge=70, le=200_000)] = 3500
    dev_fraction: Fraction = 0.1
    # An image whose pixel standard deviation is at most this is blank (all-black, constant).
    blank_std_max: Annotated[float, Field(ge=0.0)] = 1.0
    keep_blank_in_test: bool = True
    # The stage fails when more than this fraction of data rows is rejected.
    max_reject_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01


class AugmentParams(_Section):
    # Which augmented training sets to build; a model chooses one of them (or none).
    modes: list[Literal["balanced", "full"]] = ["balanced"]
    ops: list[Literal["flip", "brightness", "contrast"]] = ["flip", "brightness", "contrast"]
    # balanced: top each class up to this fraction of the largest class.
    balance_target: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    # balanced: at most this many augmented copies of any one image.
    max_copies_per_image: Annotated[int, Field(ge=1, le=50)] = 4
    # full: augmented copies made of every training image.
    copies_per_image: Annotated[int, Field(ge=1, le=20)] = 1
    brightness: Annotated[float, Field(ge=0.0, le=128.0)] = 32.0  # max additive shift (gray levels)
    contrast: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.3  # max relative change of contrast

    @field_validator("modes", "ops")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"entries must be unique, got {value}")
        return value


class LandmarkParams(_Section):
    upscale: Annotated[int, Field(ge=1, le=8)] = 2
    normalise: bool = False
    backend: Literal["numba", "dlib"] = "numba"


class HogParams(_Section):
    orientations: Annotated[int, Field(ge=1, le=36)] = 9
    pixels_per_cell: Annotated[int, Field(ge=2, le=24)] = 8
    cells_per_block: Annotated[int, Field(ge=1, le=6)] = 2


class FeatureParams(_Section):
    hog: HogParams = HogParams()
    landmarks: LandmarkParams = LandmarkParams()
    n_jobs: Annotated[int, Field(ge=1, le=256)] = 2
    batch_size: Annotated[int, Field(ge=64)] = 4096


class Params(_Section):
    seed: Annotated[int, Field(ge=0)] = 2013
    data: DataParams = DataParams()
    augment: AugmentParams = AugmentParams()
    features: FeatureParams = FeatureParams()


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "<top level>"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key (check its spelling; see params.yaml in the repository for every key)"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    return f"{where}: got {error.get('input')!r}; {message}"


def parse_params(raw: object, origin: str = "params.yaml") -> Params:
    """Validate an already-parsed mapping; raise :class:`ParamsError` listing every bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{origin}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = "\n".join(f"  - {_describe(e)}" for e in exc.errors())
        raise ParamsError(f"{origin}: invalid parameters\n{lines}") from None


def load_params(path: str | os.PathLike[str] = DEFAULT_PARAMS) -> Params:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: parameters file not found (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, origin=str(path))
