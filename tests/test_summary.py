"""``ferbench summary``: the report's path, the data (loudly when synthetic) and the top models,
read from a run's records."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_data.synthetic import SYNTHETIC_NOTICE
from models.records import ModelMetrics
from pipeline import paths, summary
from pipeline.cli import main as cli_main
from tests.results_helpers import sample_predictions, write_run


@pytest.fixture(scope="module")
def predictions(fer2013_frame):
    return sample_predictions(fer2013_frame)


def _run(tmp_path: Path, monkeypatch, predictions, synthetic: bool) -> None:
    y_true, usage, predicted = predictions
    write_run(tmp_path, y_true, usage, predicted, synthetic=synthetic)
    monkeypatch.chdir(tmp_path)


def test_the_summary_names_the_report_the_data_and_the_ranked_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, predictions
) -> None:
    _run(tmp_path, monkeypatch, predictions, synthetic=False)
    assert cli_main(["summary", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert f"Report:  {(tmp_path / paths.REPORT_FILE).resolve().as_uri()}" in out
    assert "Data:    csv data/raw/fer2013.csv" in out and "SYNTHETIC" not in out
    metrics = {m: ModelMetrics.read(paths.metrics(m)) for m in predictions[2]}
    ranked = sorted(metrics.values(), key=lambda m: -m.test.all.accuracy)
    listed = [line.split()[1] for line in out.splitlines() if line.startswith("  ")]
    assert listed == [m.model for m in ranked[:3]]
    best = ranked[0].test.all
    low, high = best.accuracy_ci95
    assert f"accuracy {best.accuracy:.3f} (95% CI {low:.3f}-{high:.3f})" in out
    assert f"macro-F1 {best.macro_f1:.3f}" in out
    assert f"Top 3 of {len(metrics)} models by test accuracy ({best.n} test images)" in out


def test_a_synthetic_run_says_so_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, predictions
) -> None:
    _run(tmp_path, monkeypatch, predictions, synthetic=True)
    assert summary.cli([]) == 0
    out = capsys.readouterr().out
    banner = [line for line in out.splitlines() if line.startswith("!!")]
    assert "SYNTHETIC DEMO SET" in banner[1]
    assert " ".join(SYNTHETIC_NOTICE.split()) in " ".join(line[3:] for line in banner[1:-1])
    assert "synthetic demo data: these numbers say nothing about FER2013" in out


def test_no_leaderboard_yet_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, predictions
) -> None:
    _run(tmp_path, monkeypatch, predictions, synthetic=False)
    paths.LEADERBOARD_FILE.unlink()
    assert summary.cli([]) == 2
    with pytest.raises(FileNotFoundError, match="no leaderboard yet; run the pipeline first"):
        summary.summary_lines(Path("."), "accuracy", 5)
