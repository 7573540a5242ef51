"""Start JupyterLab on the course, listening on 127.0.0.1 only.

JupyterLab prints the URL (with its login token) itself once it is up.
"""
import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    args = parser.parse_args()
    jupyter = ROOT / ".venv" / "bin" / "jupyter"
    argv = [
        str(jupyter), "lab",
        "--ip=127.0.0.1", f"--port={args.port}", "--no-browser",
        f"--ServerApp.root_dir={ROOT}",
        f"--ServerApp.default_url=/lab/tree/notebooks",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")  # Jupyter refuses to run as root without it
    # nbgrader's lab extension reads the course config from the current directory.
    os.chdir(ROOT / "autograder")
    print(f"[lab] starting JupyterLab on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)", flush=True)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
