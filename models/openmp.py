"""How OpenMP threads wait between parallel regions: spin briefly, then sleep.

GNU OpenMP (libgomp, which torch, LightGBM, XGBoost and scikit-learn load) reads its wait settings
once, when it loads, so they must be in the environment before then. Its default spins 300,000
iterations before sleeping: on 2 cores shared with another job that made 2-thread LightGBM 10x
slower (63 s instead of 6 s for 61 rounds on 2,520 faces). Sleeping at once (``OMP_WAIT_POLICY=
PASSIVE``) fixes that, but on an idle machine it made the same fit 3x slower (8.1 s instead of
2.5 s): every short parallel region then pays a thread wake-up. A spin of 3,000 iterations kept
the idle speed (2.5 s) and cost 1.5x when a core was busy (9.8 s instead of 6.3 s); for the CNN on
the demo set, epochs took 4.7 s instead of 5.9 s idle and 11.0 s instead of 9.7 s busy (measured
2026-12-02, 2-core Xeon). A value the user set for either variable wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SPIN_COUNT = "3000"  # GOMP_SPINCOUNT: busy-wait iterations before a waiting thread sleeps


def openmp_wait_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables to add to ``environ`` (default ``os.environ``): ``{"GOMP_SPINCOUNT":
    "3000"}``, or nothing when the user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``."""
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return {}
    return {"GOMP_SPINCOUNT": SPIN_COUNT}
