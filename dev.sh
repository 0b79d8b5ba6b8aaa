#!/usr/bin/env bash
# The two commands of the README, and a few more for developers:
#   ./dev.sh demo   install into .venv (if needed) and run the whole pipeline on generated data
#   ./dev.sh test   install into .venv (if needed) and run the test suite
#   ./dev.sh lint   ruff check + format check
set -euo pipefail
cd "$(dirname "$0")"
VENV=${TELCOSEG_VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment $VENV"
    "$PY" -m venv "$VENV"
  fi
  # Reinstall only when the dependency list changed.
  local stamp="$VENV/.telcoseg-installed"
  local want
  want=$(sha256sum setup.cfg pyproject.toml | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing telcoseg and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[test,parity]"
    echo "$want" >"$stamp"
  fi
  export PYSPARK_PYTHON="$PWD/$VENV/bin/python"
  export PYSPARK_DRIVER_PYTHON="$PWD/$VENV/bin/python"
}

case "${1:-}" in
  demo)
    shift
    install
    exec "$VENV/bin/python" jobs/demo.py "$@"
    ;;
  test)
    shift
    install
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  lint)
    install
    "$VENV/bin/ruff" check lib jobs tests benchmarks
    "$VENV/bin/ruff" format --check lib jobs tests benchmarks
    ;;
  *)
    echo "usage: ./dev.sh demo|test|lint [args]" >&2
    exit 2
    ;;
esac
