#!/usr/bin/env bash
# Set up everything microgradlab needs, once; later runs return in well under
# a second when nothing changed.
#   - a virtual environment in .venv with the pinned packages (requirements.lock)
#     and this project installed in editable mode;
#   - Debian packages: graphviz (the `dot` renderer), bubblewrap (the grader's
#     sandbox), chromium (the browser tests), fonts-dejavu-core (the symbols the
#     widgets show: ✓ ✗ ○ ▶ ⚠, in a font that has them), libjs-katex (maths in
#     feedback pages, offline), postgresql (the gradebook tests start a real
#     server). Installed when missing and we are root; otherwise we print the
#     command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.microgradlab-installed"

say() { printf '[setup] %s\n' "$*"; }

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

system_packages() {
    local missing=()
    command -v dot >/dev/null 2>&1 || missing+=(graphviz)
    command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    [ -f /usr/share/javascript/katex/katex.min.js ] || missing+=(libjs-katex)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    # Debian keeps initdb/pg_ctl off PATH, in /usr/lib/postgresql/<version>/bin.
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 ||
        missing+=(postgresql)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing Debian packages: ${missing[*]}"
        # Other jobs on the machine may hold the dpkg lock: wait for it rather than fail.
        apt-get -o DPkg::Lock::Timeout=300 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null
    else
        say "missing system packages: ${missing[*]}"
        say "install them with:  sudo apt-get install ${missing[*]}"
        say "(without graphviz, graph drawings use the built-in fallback renderer;"
        say " without bubblewrap, 'microgradlab grade' refuses untrusted work unless --unsafe;"
        say " without chromium, the browser tests are skipped;"
        say " without libjs-katex, feedback pages show maths as TeX)"
        say " without postgresql, the gradebook's PostgreSQL test is skipped)"
    fi
}

want="$(cat requirements.lock pyproject.toml jupyter-config/*.json | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    system_packages
    exit 0
fi

PY="$(find_python)" || { say "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $PY"
    "$PY" -m venv "$VENV"
fi
say "installing pinned packages (first run: about a minute)"
# (This machine's pip config may name local package folders that do not exist; pip's
# warnings about them are noise, so they are filtered out.)
# pip byte-compiles every module on one core; compileall does it on every core. The
# grader's sandbox cannot write bytecode, so it must be there before grading. (A few
# packages ship files that are not Python 3 on purpose: compileall's complaints about
# them are not an error.)
# The lock names every package, so pip resolves nothing (--no-deps); whatever an earlier
# install left that the lock does not name is removed, and `pip check` below proves
# the set complete.
# pip fetches each package's index page in turn, so four installs side by side, each a
# quarter of the lock (no package in two), take well under half the time of one. One
# install may read another's half-written metadata and warn that it skips it: noise
# here, filtered out; `pip check` below proves the whole set installed and consistent.
parts="$(mktemp -d)"
grep -v '^#' requirements.lock | grep . > "$parts/lock"
split -n r/4 "$parts/lock" "$parts/part."
installs=()
for part in "$parts"/part.*; do
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
        -r "$part" 2> >(grep -v -e "is ignored: it is neither a file nor a directory" \
                             -e "due to invalid metadata entry" >&2) &
    installs+=($!)
done
failed=0
for install in "${installs[@]}"; do wait "$install" || failed=1; done
rm -rf "$parts"
[ "$failed" = 0 ] || { say "pip could not install the lock (see above)"; exit 1; }
unlisted="$("$VENV/bin/python" - <<'PY'
from importlib.metadata import distributions
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
wanted = {canonicalize_name(Requirement(line.strip()).name) for line in open("requirements.lock")
          if line.strip() and not line.startswith("#")} | {"pip", "microgradlab"}
installed = {canonicalize_name(d.metadata["Name"]) for d in distributions()}
print(" ".join(sorted(installed - wanted)))
PY
)"
if [ -n "$unlisted" ]; then
    say "removing packages the lock does not name: $unlisted"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip uninstall --quiet --yes $unlisted
fi
# Left out: packages and parts of torch no process here imports (sympy, networkx,
# torch's compiler and ONNX export) and test folders.
"$VENV/bin/python" -m compileall -q -j 0 \
    -x '/(sympy|networkx)/|/torch/(_inductor|_dynamo|onnx)/|/tests?/' "$VENV/lib" >/dev/null || true
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
"$VENV/bin/python" -m pip check >/dev/null || { "$VENV/bin/python" -m pip check; exit 1; }
# An editable install skips pyproject's data-files: nbconvert's setting that writes
# an output with its own HTML (the check panel's verdict) as that HTML.
mkdir -p "$VENV/etc/jupyter"
cp jupyter-config/jupyter_nbconvert_config.json "$VENV/etc/jupyter/"
system_packages
echo "$want" > "$STAMP"
say "ready"
