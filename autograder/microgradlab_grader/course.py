"""The course a grading run belongs to: its id, which names the seeds of its cases.

The id is ``c.CourseDirectory.course_id`` in ``autograder/nbgrader_config.py``. That
file is Python that nbgrader runs, and running it has effects (it creates the
exchange folder) and could run anything an edit put there; the seed only needs one
string. So the file is parsed, never run: the id is the string literal of the
last top-level assignment ``<config>.CourseDirectory.course_id = "..."``, as
running the file would leave it. Any other shape (a computed value, no such
line, no file) is an error that says to give ``--course-id``.
"""

from __future__ import annotations

import ast
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "nbgrader_config.py"
MAX_CONFIG_BYTES = 1024**2
MAX_COURSE_ID = 200


class CourseError(ValueError):
    """The course id cannot be known; ``str()`` is one line for the user."""


def check_course_id(text: str) -> str:
    """``text`` if it can be a course id (non-empty, one line, at most 200 characters)."""
    if not isinstance(text, str) or not text.strip():
        raise CourseError("a course id must be a non-empty string")
    if len(text) > MAX_COURSE_ID or not text.isprintable():
        raise CourseError(f"the course id {text[:MAX_COURSE_ID]!r} must be one printable line "
                          f"of at most {MAX_COURSE_ID} characters")
    return text


def _is_course_id_target(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "course_id"
            and isinstance(node.value, ast.Attribute) and node.value.attr == "CourseDirectory")


def course_id_from_config(path: Path | None = None) -> str:
    """The course id written in the nbgrader config at ``path`` (default: the course's own,
    :data:`DEFAULT_CONFIG`; see the module docstring)."""
    path = Path(DEFAULT_CONFIG if path is None else path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise CourseError(f"{path} is larger than an nbgrader config should be; give "
                              "--course-id")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except OSError as exc:
        raise CourseError(f"cannot read the course id from {path} ({exc.strerror}); give "
                          "--course-id") from None
    except (SyntaxError, ValueError) as exc:
        raise CourseError(f"cannot read the course id from {path} ({type(exc).__name__}: "
                          f"{exc}); give --course-id") from None
    found = None
    for statement in tree.body:
        targets = []
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        if not any(_is_course_id_target(t) for t in targets):
            continue
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            raise CourseError(f"{path}, line {statement.lineno}: course_id is not a plain "
                              "string, and the config is never run to compute it; give "
                              "--course-id")
        found = value.value
    if found is None:
        raise CourseError(f"{path} sets no c.CourseDirectory.course_id; give --course-id")
    return check_course_id(found)
