"""Where the dlib models that ``face_recognition_models`` ships lie on disk.

The package's own ``__init__`` imports ``pkg_resources`` (absent from modern setuptools), so the
files are found from the package's location without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
MMOD_FACE_DETECTOR = "mmod_human_face_detector.dat"


def packaged_model_path(file_name: str) -> Path:
    """Path of ``file_name`` in ``face_recognition_models/models/``.

    Raises
    ------
    FileNotFoundError
        If the package is not installed or the file is missing from it.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package face_recognition_models is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / file_name
    if not path.is_file():
        raise FileNotFoundError(f"dlib model {file_name} not found at {path}")
    return path
