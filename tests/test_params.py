"""params.yaml is validated on load; every bad value is reported with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main as cli_main
from pipeline.params import ParamsError, load_params
from tests.stage_helpers import REPO_ROOT, validated


def test_repository_params_are_valid() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.features.hog.orientations == 9 and params.data.source == "auto"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"data": {"dev_fraction": 1.5}}, "data.dev_fraction: got 1.5"),
        ({"data": {"dev_fraction": "a lot"}}, "data.dev_fraction: got 'a lot'"),
        ({"data": {"source": "kaggle"}}, "data.source: got 'kaggle'"),
        ({"data": {"max_reject_fraction": -0.1}}, "data.max_reject_fraction"),
        ({"data": {"synthetic_rows": 10}}, "data.synthetic_rows: got 10"),
        ({"augment": {"modes": ["balanced", "balanced"]}}, "augment.modes"),
        ({"augment": {"modes": ["sideways"]}}, "augment.modes.0: got 'sideways'"),
        ({"augment": {"ops": ["blur"]}}, "augment.ops.0"),
        ({"augment": {"reframe": 0.0}}, "augment.reframe: got 0.0"),
        ({"features": {"landmarks": {"upscale": 0}}}, "features.landmarks.upscale: got 0"),
        ({"features": {"landmarks": {"backend": "opencv"}}}, "features.landmarks.backend"),
        ({"features": {"hogg": {}}}, "features.hogg: unknown key"),
        ({"seed": -1}, "seed: got -1"),
        ({"predict": {"jitter": {"shift": 0.5}}}, "predict.jitter.shift: got 0.5"),
        ({"predict": {"jitter": {"scales": []}}}, "predict.jitter.scales"),
        ({"predict": {"jitter": {"scales": [1.0, 3.0]}}}, "predict.jitter.scales.1: got 3.0"),
    ],
)
def test_bad_values_name_their_key(raw: dict, expected: str) -> None:
    with pytest.raises(ParamsError, match="invalid parameters") as info:
        validated(raw)
    assert expected in str(info.value)


def test_every_bad_key_is_listed_at_once() -> None:
    with pytest.raises(ParamsError) as info:
        validated({"seed": "x", "data": {"dev_fraction": 2}})
    assert "seed:" in str(info.value) and "data.dev_fraction:" in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("data: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("- a list\n")
    with pytest.raises(ParamsError, match="expected a mapping"):
        load_params(tmp_path / "params.yaml")


def test_cli_fails_before_any_work_with_exit_code_2(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("data:\n  dev_fraction: 0\n")
    assert cli_main(["ingest"]) == 2
    assert not (tmp_path / "data").exists() and not (tmp_path / "metrics").exists()
