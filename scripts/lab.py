"""Start JupyterLab on the course, listening on 127.0.0.1 only.

    python scripts/lab.py [--port 8888]                the learner's view (make lab)
    python scripts/lab.py --instructor [--port 8888]   every nbgrader tool (make instructor)

Once the server answers, this prints one line with the URL to open. It carries a
login token made for this run (so nobody else on the machine can use the server)
and, in the learner's view, opens notebook 01 in a file browser that holds the
student notebooks only: the server's root is ``notebooks/``. The instructor's view
keeps the whole repository (solutions, autograder, tests) and nbgrader's tools.

The learner's view switches off nbgrader's instructor tools in the browser
(Formgrader, Create Assignment, the Validate button, the Nbgrader menu and the
course list) and keeps the Assignment List, for courses that hand out work
through an nbgrader exchange; nbgrader's formgrader and course-list server extensions do
not run for learners at all. Both views switch off JupyterLab's "Jupyter news"
prompt and its update check (they would ask a learner a question before the
first notebook, and fetch from the internet). Both are done with a Jupyter config
folder of this script's own (``.venv/microgradlab/learner-config`` or
``instructor-config``), put first on ``JUPYTER_CONFIG_PATH`` for this server only:
your own Jupyter settings are left as they are, and a setting you chose yourself
still wins. The nbgrader server extension itself still loads (it is one extension
for every tool); only its pages in Lab are off for learners.
"""
import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_HOME = ROOT / ".venv" / "microgradlab"
LEARNER_CONFIG = CONFIG_HOME / "learner-config"
INSTRUCTOR_CONFIG = CONFIG_HOME / "instructor-config"
FIRST_NOTEBOOK = "01_derivatives.ipynb"
STARTUP_SECONDS = 180  # a cold start on a loaded laptop; JupyterLab usually answers in 3-10 s

#: nbgrader 0.9's lab plugins that only an instructor needs.
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:validate-assignment",
    "@jupyter/nbgrader:menu",
    "@jupyter/nbgrader:course-list",
)

#: nbgrader's server extensions that serve only instructor tools: off in the learner's view
#: (the formgrader would also complain that the course is outside the learner's root).
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)

#: JupyterLab defaults changed for both views: no news prompt, no update check.
QUIET_LAB = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                             "checkForUpdates": False}}


def write_config(instructor: bool, folder: Path | None = None) -> Path:
    """The config folder of one view (labconfig/ with its page config and setting defaults)."""
    folder = folder or (INSTRUCTOR_CONFIG if instructor else LEARNER_CONFIG)
    labconfig = folder / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    disabled = {} if instructor else {name: True for name in INSTRUCTOR_PLUGINS}
    write_json(labconfig / "page_config.json", {"disabledExtensions": disabled})
    write_json(labconfig / "default_setting_overrides.json", QUIET_LAB)
    extensions = {} if instructor else {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}
    write_json(folder / "jupyter_server_config.json",
               {"ServerApp": {"jpserver_extensions": extensions}})
    return folder


def write_learner_config(folder: Path = LEARNER_CONFIG) -> Path:
    """The config folder that hides the instructor plugins; returns it."""
    return write_config(False, folder)


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def lab_environment(instructor: bool, environ=None, token: str = "") -> dict:
    """The server's environment: this view's config folder first, and the login token."""
    env = dict(os.environ if environ is None else environ)
    folder = str(write_config(instructor))
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [folder] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    if token:
        env["JUPYTER_TOKEN"] = token  # the environment, not argv: `ps` shows argv to everyone
    return env


def server_command(port: int, instructor: bool) -> list[str]:
    root = ROOT if instructor else ROOT / "notebooks"
    argv = [
        str(ROOT / ".venv" / "bin" / "jupyter"), "lab",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0", "--no-browser",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.default_url={start_path(instructor)}",
    ]
    if not instructor:
        # The URL printed below is the one line to read: the servers log warnings only.
        argv += ["--log-level=WARN", "--LabApp.log_level=WARN"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # Jupyter refuses to run as root without it
    return argv


def start_path(instructor: bool) -> str:
    return "/lab/tree/notebooks" if instructor else f"/lab/tree/{FIRST_NOTEBOOK}"


def course_url(port: int, token: str, instructor: bool) -> str:
    return f"http://127.0.0.1:{port}{start_path(instructor)}?token={token}"


def wait_until_up(server: subprocess.Popen, port: int, token: str) -> bool:
    """True once the server answers /api/status; False if it exits or never answers."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                     headers={"Authorization": f"token {token}"})
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--instructor", action="store_true",
                        help="keep the whole repository and nbgrader's instructor tools "
                             "(Formgrader, Create Assignment, Validate, the Nbgrader menu)")
    args = parser.parse_args()
    token = secrets.token_hex(24)
    view = "instructor's view: every nbgrader tool" if args.instructor else "learner's view"
    print(f"[lab] starting JupyterLab on 127.0.0.1:{args.port} ({view})...", flush=True)
    # nbgrader's lab extension reads the course config from the current directory.
    server = subprocess.Popen(server_command(args.port, args.instructor),
                              env=lab_environment(args.instructor, token=token),
                              cwd=ROOT / "autograder")
    # Ctrl-C reaches the server too (same terminal); it asks before it stops, so this
    # process just waits for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    if wait_until_up(server, args.port, token):
        print(f"[lab] open {course_url(args.port, token, args.instructor)}", flush=True)
        print("[lab] (to stop it: Ctrl-C here, then y)", flush=True)
    elif server.poll() is None:
        print(f"[lab] JupyterLab did not answer within {STARTUP_SECONDS} s; stopping it",
              file=sys.stderr, flush=True)
        server.terminate()
    else:
        print(f"[lab] JupyterLab stopped (exit code {server.returncode}). If port "
              f"{args.port} is taken, pick another: make lab PORT={args.port + 1}",
              file=sys.stderr, flush=True)
    return server.wait()


if __name__ == "__main__":
    sys.exit(main())
