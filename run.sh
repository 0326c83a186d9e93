#!/usr/bin/env bash
# One command to set everything up and run a job:
#   ./run.sh repro   create .venv, install the locked dependencies, run `dvc repro`, then
#                    `ferbench summary` (the report's path, the data, the top of the leaderboard)
#   ./run.sh test    the same setup, then ruff and the test suite
#   ./run.sh lock    regenerate requirements.lock from pyproject.toml (pip-tools)
set -euo pipefail
cd "$(dirname "$0")"

setup() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  # Lock first (exact versions), then the project itself without re-resolving.
  .venv/bin/python -m pip install --quiet -r requirements.lock
  .venv/bin/python -m pip install --quiet --no-deps -e .
  export PATH="$PWD/.venv/bin:$PATH"
}

case "${1:-}" in
  repro)
    setup
    shift
    ferbench check          # every parameter, every model's hyper-parameters, before any work
    dvc repro "$@"
    ferbench summary        # the report's path, the data (loudly when synthetic), the top models
    ;;
  test)
    setup
    shift
    ruff check .
    lint-imports            # one import direction (pyproject.toml: [tool.importlinter])
    python -m pytest "$@"
    ;;
  lock)
    setup
    .venv/bin/python -m pip install --quiet pip-tools
    .venv/bin/pip-compile --quiet --extra dev --strip-extras --no-emit-index-url \
      --no-emit-find-links -o requirements.lock pyproject.toml
    # torch: pin the public release; pip then takes the CPU wheel where one is available.
    sed -i 's/^torch==\([0-9.]*\)+cpu/torch==\1/' requirements.lock
    ;;
  *)
    echo "usage: ./run.sh repro|test|lock" >&2
    exit 2
    ;;
esac
