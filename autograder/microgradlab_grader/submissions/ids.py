"""One learner, one id.

A learner's id names their rows in the gradebook and their folder of feedback pages,
so it must be a plain file name, the same in every run, and never shared:

* a raw name that is already a plain id (:data:`STUDENT_ID`: letters, digits and
  ``. _ @ + -``, at most 100 characters, starting with a letter or digit) is its own id;
* any other raw name becomes ``slug~xxxxxxxx``: a readable plain version of the name
  (accents dropped, every other run of characters made ``_``, cut to fit) and the first
  8 hex digits of the sha256 of the raw name. The hash depends on the raw name alone,
  so an id does not depend on which other learners are in the class (a later run never
  hands one learner's row to another), and names that slug alike (``ann lee``,
  ``ann_lee``) or share their first 100 characters stay apart. ``~`` is never in a plain
  id, so a made id never equals a raw one.

Two different raw names whose ids agree (a collision of 8 hex digits: about one chance
in 4 billion per pair with the same slug) stop discovery with both names
(:class:`Learners`): no learner's work silently replaces another's.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from .model import SubmissionError

MAX_ID = 100
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,%d}" % (MAX_ID - 1))
FINGERPRINT_DIGITS = 8
SLUG_LIMIT = MAX_ID - 1 - FINGERPRINT_DIGITS
FALLBACK = "learner"     # the slug of a name with no letter or digit in it ("---", "张伟")


def fingerprint(raw: str) -> str:
    """The first 8 hex digits of sha256 of the raw name (its bytes as on disk)."""
    data = raw.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:FINGERPRINT_DIGITS]


def slug(raw: str) -> str:
    """A readable plain version of ``raw``: ``José Núñez`` -> ``Jose_Nunez``."""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._@+-]+", "_", folded).strip("._-+@")
    return text[:SLUG_LIMIT].rstrip("._-+@") or FALLBACK


def student_id(raw: str) -> str:
    """The id of the learner named ``raw`` (the rule in the module docstring)."""
    if STUDENT_ID.fullmatch(raw):
        return raw
    return f"{slug(raw)}~{fingerprint(raw)}"


def name_text(raw: str) -> str:
    """The raw name as storable text: bytes that are not UTF-8 (a file name from another
    system) and NUL (a zip entry's name may hold one; PostgreSQL's text cannot) written
    as ``\\xe9``, ``\\x00``; every other character kept as it is."""
    text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")


class Learners:
    """The learners of one input: each id and the raw name (key) it was made from."""

    def __init__(self):
        self._key_of: dict[str, str] = {}

    def id_for(self, key: str) -> str:
        """``student_id(key)``, refused (:class:`SubmissionError`) if another key has it."""
        sid = student_id(key)
        seen = self._key_of.setdefault(sid, key)
        if seen != key:
            raise SubmissionError(
                f"two learners would share the id {sid!r}: {name_text(seen)!r} and "
                f"{name_text(key)!r}; rename one of them (nothing was graded)")
        return sid
