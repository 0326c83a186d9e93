"""The fit process of a :class:`models.worker.BudgetWorker`: ``python -m models.fit_process FD``.

It talks to its parent over the inherited file descriptor ``FD`` and imports scikit-learn (what
every task fits) and what its tasks need (unpickling a task imports its module), not the stage
that started it.
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing.connection import Connection

from models.worker import serve


def main(argv: list[str] | None = None) -> None:
    """Serve tasks over the connection on file descriptor ``argv[0]`` until told to stop."""
    (fd,) = sys.argv[1:] if argv is None else argv
    code = 0
    try:
        serve(Connection(int(fd)))
    except (EOFError, OSError):  # the parent is gone: nothing left to serve, nobody to tell
        pass
    except BaseException:  # e.g. an import failed at start-up: the parent reports the exit code
        traceback.print_exc()
        code = 1
    # Every result is sent and every file written: skip the interpreter's teardown (~0.3 s with
    # scikit-learn loaded), which the stage would otherwise wait for.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
