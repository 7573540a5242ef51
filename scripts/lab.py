"""Start JupyterLab on the course, listening on 127.0.0.1 only.

    python scripts/lab.py [--port 8888]                the learner's view (make lab)
    python scripts/lab.py --instructor [--port 8888]   every nbgrader tool (make instructor)

The learner's view switches off nbgrader's instructor tools in the browser
(Formgrader, Create Assignment, the Validate button, the Nbgrader menu and the
course list) and keeps the Assignment List, for courses that hand out work
through an nbgrader exchange. It does so with a ``labconfig/page_config.json``
in a Jupyter config folder of its own (``.venv/microgradlab/learner-config``),
added to ``JUPYTER_CONFIG_PATH`` for this server only: your own Jupyter
settings are left as they are. The nbgrader server extension itself still
loads (it is one extension for every tool); only its pages in Lab are off.

JupyterLab prints the URL (with its login token) itself once it is up.
"""
import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEARNER_CONFIG = ROOT / ".venv" / "microgradlab" / "learner-config"

#: nbgrader 0.9's lab plugins that only an instructor needs.
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:validate-assignment",
    "@jupyter/nbgrader:menu",
    "@jupyter/nbgrader:course-list",
)


def write_learner_config(folder: Path = LEARNER_CONFIG) -> Path:
    """The config folder that hides the instructor plugins; returns it."""
    labconfig = folder / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {name: True for name in INSTRUCTOR_PLUGINS}}
    (labconfig / "page_config.json").write_text(json.dumps(page_config, indent=2) + "\n",
                                                encoding="utf-8")
    return folder


def lab_environment(instructor: bool, environ=None) -> dict:
    """The server's environment: the learner's view puts its config folder first."""
    env = dict(os.environ if environ is None else environ)
    if not instructor:
        folder = str(write_learner_config())
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            [folder] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--instructor", action="store_true",
                        help="keep nbgrader's instructor tools (Formgrader, Create Assignment, "
                             "Validate, the Nbgrader menu)")
    args = parser.parse_args()
    jupyter = ROOT / ".venv" / "bin" / "jupyter"
    argv = [
        str(jupyter), "lab",
        "--ip=127.0.0.1", f"--port={args.port}", "--no-browser",
        f"--ServerApp.root_dir={ROOT}",
        "--ServerApp.default_url=/lab/tree/notebooks",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")  # Jupyter refuses to run as root without it
    env = lab_environment(args.instructor)
    # nbgrader's lab extension reads the course config from the current directory.
    os.chdir(ROOT / "autograder")
    view = "instructor's view: every nbgrader tool" if args.instructor else "learner's view"
    print(f"[lab] starting JupyterLab on http://127.0.0.1:{args.port}/ ({view}; Ctrl-C to stop)",
          flush=True)
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    sys.exit(main())
