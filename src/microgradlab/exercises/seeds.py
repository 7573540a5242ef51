"""Where the seeds of the random cases come from.

Three seeds, each a whole number below :data:`SEED_LIMIT` (nine digits at most, so it
can be printed, typed back in, and stored in a signed 32-bit database column):

* :func:`course_seed` -- the seed of one notebook of one course. The same course id
  and notebook give the same seed on every machine and every Python, so two graders
  who never talk draw the same cases (and the learner's own ``verify`` can too).
* :func:`exercise_seed` -- one seed per exercise, derived from a notebook's seed, so
  the exercises of a notebook do not share one stream of random numbers.
* :func:`fresh_seed` -- a new seed from the operating system, for a run that asks
  for new cases on purpose.
* :func:`graded_seed` -- the seed ``verify`` (a hidden test) draws with: the course's,
  when the environment names the course (``autograder/nbgrader_config.py`` sets
  :data:`COURSE_ENV` for nbgrader's kernels), so nbgrader and ``microgradlab grade``
  judge the same cases; otherwise none (fresh cases at every call).

The derivations use sha256 (``course_seed``) and ``random.Random`` seeded with a
string (``exercise_seed``; CPython hashes a string seed with sha512 since 3.2), never
the built-in ``hash``, which is salted per process.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets

SEED_LIMIT = 1_000_000_000
COURSE_ENV = "MICROGRADLAB_COURSE_ID"


def course_seed(course_id: str, notebook: str) -> int:
    """The seed of ``notebook``'s random cases in the course ``course_id``.

    ``int(sha256(course_id NUL notebook)) mod 10**9``: the NUL keeps ("ab", "c") and
    ("a", "bc") apart. Reduction of a 256-bit hash mod 10**9 is uniform to within
    10**9 / 2**256, i.e. exactly uniform for every purpose here.
    """
    if not isinstance(course_id, str) or not course_id:
        raise ValueError(f"a course id must be a non-empty string, got {course_id!r}")
    if not isinstance(notebook, str) or not notebook:
        raise ValueError(f"a notebook name must be a non-empty string, got {notebook!r}")
    digest = hashlib.sha256(f"{course_id}\0{notebook}".encode("utf-8")).digest()
    return int.from_bytes(digest, "big") % SEED_LIMIT


def exercise_seed(run_seed: int, exercise_id: str) -> int:
    """The seed of one exercise's random cases, derived from its notebook's seed."""
    return random.Random(f"{run_seed}:{exercise_id}").getrandbits(32)


def fresh_seed() -> int:
    """A new seed from the operating system's randomness, below :data:`SEED_LIMIT`."""
    return secrets.randbelow(SEED_LIMIT)


def graded_seed(exercise) -> int | None:
    """The seed of ``exercise``'s random cases in a graded run: the one ``microgradlab
    grade`` draws with for the course named by :data:`COURSE_ENV`, or None when no course
    is named (a learner's own kernel: fresh cases each time)."""
    course_id = os.environ.get(COURSE_ENV, "").strip()
    if not course_id:
        return None
    return exercise_seed(course_seed(course_id, exercise.notebook), exercise.id)
