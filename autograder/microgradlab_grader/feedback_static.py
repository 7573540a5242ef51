"""The files every feedback page links to, copied once into ``OUT/feedback/_static``.

Pages are opened from disk, often with no network (instructors grade offline
too), so maths is typeset by a copy of KaTeX next to the pages, found on the
grading machine: Debian's ``libjs-katex`` (``scripts/setup.sh`` installs it)
at /usr/share/javascript/katex, or a KaTeX folder named by
``MICROGRADLAB_KATEX_DIR`` (a folder with katex.min.js, katex.min.css,
contrib/auto-render.js and fonts/). Without KaTeX the pages still work and
show maths as TeX, and say so.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

STATIC = "_static"
ASSETS = Path(__file__).with_name("feedback_assets")
KATEX_CANDIDATES = ("/usr/share/javascript/katex",)
# What a page needs from KaTeX (fonts: only woff2, which every current browser reads).
KATEX_FILES = {"katex.min.js": "katex.min.js", "katex.min.css": "katex.min.css",
               "contrib/auto-render.js": "auto-render.min.js"}

_lock = threading.Lock()
_installed: dict[Path, bool] = {}


def katex_source() -> Path | None:
    """The KaTeX folder to copy from, or None when this machine has none."""
    named = os.environ.get("MICROGRADLAB_KATEX_DIR")
    for candidate in ([named] if named else []) + list(KATEX_CANDIDATES):
        folder = Path(candidate)
        if all((folder / name).is_file() for name in KATEX_FILES) and (folder / "fonts").is_dir():
            return folder
    return None


def _copy_if_changed(source: Path, target: Path):
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)  # copyfile follows Debian's symlinks to the real files


def install(feedback_dir: Path) -> bool:
    """Copy the page assets into ``feedback_dir/_static`` (once per folder and run).

    Returns True when maths can be typeset (KaTeX was found and copied)."""
    feedback_dir = Path(feedback_dir).resolve()
    static = feedback_dir / STATIC
    with _lock:
        if feedback_dir in _installed and (static / "render-maths.js").is_file():
            return _installed[feedback_dir]
        for asset in ASSETS.iterdir():
            if asset.is_file():
                _copy_if_changed(asset, static / asset.name)
        katex = katex_source()
        if katex is not None:
            for name, copy_as in KATEX_FILES.items():
                _copy_if_changed(katex / name, static / "katex" / copy_as)
            for font in sorted((katex / "fonts").glob("*.woff2")):
                _copy_if_changed(font, static / "katex" / "fonts" / font.name)
        _installed[feedback_dir] = katex is not None
        return katex is not None
