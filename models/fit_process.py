"""The fit process of a :class:`models.worker.BudgetWorker`: ``python -m models.fit_process FD``.

It talks to its parent over the inherited file descriptor ``FD`` and imports only what its tasks
need (unpickling a task imports the task's module), not the stage that started it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from multiprocessing.connection import Connection

from models.worker import serve


def main(argv: list[str] | None = None) -> None:
    """Serve tasks over the connection on file descriptor ``argv[0]`` until told to stop."""
    (fd,) = sys.argv[1:] if argv is None else argv
    with contextlib.suppress(EOFError):  # the parent is gone: nothing left to serve
        serve(Connection(int(fd)))
    # Every result is sent and every file written: skip the interpreter's teardown (~0.3 s with
    # scikit-learn loaded), which the stage would otherwise wait for.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
