#!/usr/bin/env bash
# Run the whole test suite in the project's environment. pytest's exit code 5
# ("no tests collected") is a failure here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg
# Byte-compile the project's own code once: every kernel, command and worker the tests
# start imports it, and with PYTHONDONTWRITEBYTECODE set (as on some CI machines) each
# of them would otherwise compile it from source again.
.venv/bin/python -m compileall -q -j 0 src autograder >/dev/null || true
# For the same reason, let pytest keep the test modules it rewrites (to explain failed
# asserts) in __pycache__: with PYTHONDONTWRITEBYTECODE set, each of the four workers
# would rewrite every test module again. (The grader's sandboxes ignore the variable.)
unset PYTHONDONTWRITEBYTECODE
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
