#!/usr/bin/env bash
# Run the whole test suite in the project's environment. pytest's exit code 5
# ("no tests collected") is a failure here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg
# Four workers on two cores: many tests spend much of their time waiting (on kernels,
# sandboxes, a browser, timeouts that must run out), so two workers leave the cores idle.
# loadgroup: tests marked xdist_group(name) stay on one worker (see test_hostile.py).
.venv/bin/python -m pytest -n 4 --dist loadgroup "$@"
status=$?
if [ $status -eq 5 ]; then
    echo "[test] pytest collected no tests: treating that as a failure" >&2
    exit 1
fi
exit $status
