"""The model zoo's names, torch- and estimator-free: validating params.yaml imports them."""

from __future__ import annotations

# Each model lives in models/<name>.py (its params.yaml key); this order is every table's order.
MODEL_NAMES = (
    "knn",
    "gnb",
    "svm",
    "local_svm",
    "rf",
    "adaboost",
    "lightgbm",
    "xgboost",
    "mlp",
)

# The stacking ensemble of the zoo (and the CNNs): models/ensemble.py, stage `ensemble`.
ENSEMBLE_NAME = "ensemble"
