"""What discovery hands back: a row per (learner, notebook), and the error for an unusable input."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SYMLINK = "symlink"
UNREADABLE = "unreadable"     # as grading.UNREADABLE: the file is there but cannot be read


class SubmissionError(ValueError):
    """The submissions cannot be read as a class (bad zip, unsafe paths, two learners
    with one id...); ``str()`` is one line for the user."""


@dataclass(frozen=True)
class Submission:
    student: str        # the learner's id (ids.student_id): a safe file name, unique per learner
    notebook: str
    path: Path | None   # None: nothing handed in for this notebook, or refused (status)
    status: str | None = None
    detail: str = ""
    warnings: tuple[str, ...] = ()
    timestamp: str | None = None     # untrusted.submission_time(...), UNKNOWN_TIME, or None
    student_ids: dict[str, str] = field(default_factory=dict, hash=False)
    full_name: str | None = None
    late: bool = False
    source: str = ""
    name: str = ""      # the learner's name as the input gives it (raw: may hold any character)

    @property
    def raw_name(self) -> str:
        """The name as handed in, or the id when no name was recorded."""
        return self.name or self.student


@dataclass
class Discovery:
    submissions: list[Submission]
    unrecognised: list[str]
    notes: list[str]
