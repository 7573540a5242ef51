"""Finding the submissions in whatever shape a class arrives, never following a link.

API (used by cli.py, batch.py and report.py)::

    discover(path: Path, notebooks: list[str], workdir: Path) -> Discovery
        path: a folder of student folders, nbgrader's submitted/ layout (or that
        folder itself), one student's folder, an LMS download (flat files with
        the student in the name, Canvas or Moodle), a .zip of any of these, or a
        single .ipynb. A zip is unpacked into a new folder under ``workdir``
        (the caller removes ``workdir``, e.g. ``untrusted.scratch_folder()``).
        Raises SubmissionError (message for the user, no traceback needed) when
        the input as a whole is unusable, or when two learners would share an id.

    Discovery(submissions: list[Submission], unrecognised: list[str], notes: list[str])
        submissions: one per (student, notebook in ``notebooks``), sorted by
          student then notebook order (a single .ipynb gives just its own row);
        unrecognised: paths relative to the input of files and folders that
          are not a course notebook, sorted (folders end in "/");
        notes: sentences for report.txt (layout, links refused, what was ignored).

    Submission(student, notebook, path, status=None, detail="", warnings=(),
               timestamp=None, student_ids={}, full_name=None, late=False, source="",
               name="")
        student: the learner's id (``ids.student_id``); name: the learner's name as
          the input gives it (the folder name, Canvas's "smithjane", Moodle's
          "Jane Smith"), kept for every export;
        path: the notebook file to grade, or None (nothing handed in, or refused);
        status: None (grade it, or "missing" if path is None), SYMLINK
          ("symlink": a linked file or folder was refused; never grade the row) or
          UNREADABLE ("unreadable": a zip entry that failed to unpack, e.g. a bad CRC);
        detail: why, for a refused row; warnings: e.g. "02_value (1).ipynb matched
          as 02_value"; timestamp: nbgrader's timestamp.txt beside the notebook as a
          canonical ISO 8601 time in UTC, ``untrusted.UNKNOWN_TIME`` when that file is
          there but is not a time (the reason is in ``warnings``), or None when there
          is none; student_ids: ids found in LMS names, {"canvas_user": "12345",
          "canvas_submission": "67890"} or {"moodle_participant": "123456"};
          full_name: Moodle's "Jane Smith"; late: Canvas marked the file LATE;
          source: the file's path relative to the input.

    find_submissions(root: Path, notebooks) -> list[Submission]   # a folder only
    safe_extract(archive: Path, target: Path) -> Path              # strict: refuses links
    SubmissionError, SYMLINK, UNREADABLE, STUDENT_ID, student_id

One module per concern: :mod:`.zips` (unpacking, checked), :mod:`.tree` (the walk,
links kept as links), :mod:`.names` (file names to notebooks, LMS names),
:mod:`.ids` (one learner, one id), :mod:`.choice` (one file among look-alikes),
:mod:`.finder` (the layouts), :mod:`.discover` (the entry points).
"""

from .discover import discover, find_submissions
from .ids import STUDENT_ID, student_id
from .model import SYMLINK, UNREADABLE, Discovery, Submission, SubmissionError
from .zips import safe_extract

__all__ = ["discover", "find_submissions", "Discovery", "Submission", "SubmissionError",
           "SYMLINK", "UNREADABLE", "STUDENT_ID", "student_id", "safe_extract"]
