"""Shared fixtures: a small stratified sample of the real FER2013, read from ../shared at test time.

The dataset is never copied into the repository; when ../shared is absent every test that needs
real data is skipped with a message that says where the file was looked for.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests import pg_helpers
from tests.models_helpers import copy_store, session_store

REPO_ROOT = Path(__file__).resolve().parents[1]
FER2013_GZ = Path(
    os.environ.get("FERBENCH_FER2013", REPO_ROOT.parent / "shared/data/fer2013/fer2013.csv.gz")
)
# Rows per Usage in the test sample; stratified by emotion inside each Usage.
SAMPLE_ROWS = {"Training": 1400, "PublicTest": 210, "PrivateTest": 210}
SAMPLE_SEED = 2013


def _stratified_sample(
    frame: pd.DataFrame, rows_per_usage: dict[str, int], seed: int
) -> pd.DataFrame:
    parts = []
    rng = np.random.default_rng(seed)
    for usage, n_rows in rows_per_usage.items():
        block = frame[frame["Usage"] == usage]
        fractions = block["emotion"].value_counts(normalize=True)
        for emotion, fraction in fractions.items():
            members = block.index[block["emotion"] == emotion].to_numpy()
            take = min(len(members), max(8, round(fraction * n_rows)))
            parts.append(rng.choice(members, size=take, replace=False))
    # Keep the original row order so row ids stay meaningful.
    return frame.loc[np.sort(np.concatenate(parts))]


@pytest.fixture(scope="session")
def fer2013_frame() -> pd.DataFrame:
    """A stratified sample of the real FER2013: the Kaggle columns, original row index kept."""
    if not FER2013_GZ.exists():
        pytest.skip(
            f"real FER2013 not found at {FER2013_GZ} "
            "(set FERBENCH_FER2013 or put ../shared beside the repo)"
        )
    frame = pd.read_csv(
        FER2013_GZ, dtype={"emotion": "int64", "pixels": "string", "Usage": "string"}
    )
    return _stratified_sample(frame, SAMPLE_ROWS, SAMPLE_SEED)


@pytest.fixture(scope="session")
def fer2013_sample_csv(
    fer2013_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The sample as a Kaggle-format CSV in a temporary folder (never inside the repository)."""
    path = tmp_path_factory.mktemp("fer2013") / "fer2013.csv"
    fer2013_frame.to_csv(path, index=False, columns=["emotion", "pixels", "Usage"])
    return path


@pytest.fixture(scope="session")
def real_faces(fer2013_frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 of shape (n, 48, 48), labels int64) for the sample's rows."""
    images = np.stack(
        [np.asarray(s.split(), dtype=np.uint8).reshape(48, 48) for s in fer2013_frame["pixels"]]
    )
    return images, fer2013_frame["emotion"].to_numpy()


@pytest.fixture(autouse=True)
def _no_shared_search_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never search in a storage named by the caller's environment (a real database)."""
    monkeypatch.delenv("FERBENCH_OPTUNA_STORAGE", raising=False)


@pytest.fixture(scope="session")
def pg_server() -> pg_helpers.PgServer:
    """A throw-away PostgreSQL cluster for the session (Debian's binaries, a free port)."""
    binaries = pg_helpers.bin_dir()
    if binaries is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin "
            "or on PATH: install Debian's postgresql (apt-get install -y postgresql; .ci/run does)"
        )
    server = pg_helpers.PgServer(binaries)
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: pg_helpers.PgServer) -> str:
    """A fresh, empty database on the session's server: its URL (psycopg 3, with password)."""
    return pg_server.database()


@pytest.fixture()
def store_workdir(
    fer2013_frame: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A fresh working directory holding a copy of the session's tiny store (the current one)."""
    copy_store(session_store(fer2013_frame, tmp_path_factory), tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path
