"""The gradebook: every grade lives in a database, one row per (student, notebook).

SQLAlchemy 2, so any URL it takes works: by default a SQLite file in ``--out``
(``sqlite:///OUT/gradebook.db``), or ``--db postgresql+psycopg://...`` for a
server several instructors share. A row is written, in its own transaction, the
moment its grade arrives: an interrupted run keeps every row it finished.

A row remembers what was graded (``content_hash``: sha256 of the submitted
file; ``source_hash``: sha256 of the source notebook it was graded against) and
the ``seed`` its random cases were drawn with, so a re-run skips what has not
changed and a regrade can draw the very same cases. ``student`` is the learner's
id and ``name`` their name as handed in (:mod:`.submissions.ids`); ``timestamp``
the submission time as discovery read it (ISO 8601 in UTC, ``"unknown"``, or
empty when there was no timestamp.txt).

A gradebook written before the ``name`` column existed is upgraded when it is
opened (``ALTER TABLE grades ADD COLUMN name``): its rows keep working, and each
row gets its name the next time it is graded; until then the exports show its id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import DateTime, Float, Integer, String, Text, create_engine, inspect, select, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .grading import Grade, Verdict


class GradebookError(ValueError):
    """The gradebook cannot be opened (bad URL, unreachable server, unwritable file)."""


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "grades"

    student: Mapped[str] = mapped_column(String(100), primary_key=True)
    notebook: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(40))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")
    tampered: Mapped[str] = mapped_column(Text, default="[]")   # JSON list of strings
    verdicts: Mapped[str] = mapped_column(Text, default="{}")   # JSON {exercise: Verdict fields}
    content_hash: Mapped[str] = mapped_column(String(80))
    source_hash: Mapped[str] = mapped_column(String(80))
    seed: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[str | None] = mapped_column(String(100), nullable=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)   # as handed in
    graded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def file_hash(path: Path | None) -> str:
    """sha256 of a submitted file; a fixed word for "nothing handed in"."""
    if path is None:
        return "none"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_url(out: Path) -> str:
    return f"sqlite:///{Path(out).resolve() / 'gradebook.db'}"


def _verdict_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(Verdict)}


class Gradebook:
    """Open (and create, on first use) the gradebook at ``url``."""

    def __init__(self, url: str):
        self.url = url
        try:
            # A SQLite file may be written by several threads of this process: the
            # client thread that receives grades is the only writer, but be safe.
            args = {"connect_args": {"check_same_thread": False}} if url.startswith("sqlite") else {}
            self.engine = create_engine(url, **args)
            self._create_tables()
            self._upgrade()
        except (ArgumentError, NoSuchModuleError) as exc:
            raise GradebookError(f"--db {url!r} is not a database URL SQLAlchemy can use: "
                                 f"{exc}") from None
        except (OperationalError, SQLAlchemyError) as exc:
            reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or ["?"])[0]
            raise GradebookError(f"cannot open the gradebook {self.safe_url()}: {reason}") from None
        except (TypeError, ValueError, OSError) as exc:  # e.g. a SQL_ASCII server database
            raise GradebookError(f"cannot use the gradebook {self.safe_url()} "
                                 f"({type(exc).__name__}: {exc}); a PostgreSQL database must "
                                 "be created with ENCODING 'UTF8'") from None

    def _create_tables(self, attempts: int = 3) -> None:
        """Create the tables a new gradebook lacks. create_all looks, then creates: another
        process opening the same new gradebook (a second run, a reader of a run in
        progress) can create a table in between, and this one's CREATE then fails with
        "already exists". Looking again settles it."""
        for attempt in range(attempts):
            try:
                Base.metadata.create_all(self.engine)
                return
            except SQLAlchemyError as exc:
                # SQLite: "table grades already exists"; PostgreSQL: DuplicateTable, or a
                # duplicate key in its catalogue when both CREATEs ran at once.
                said = str(getattr(exc, "orig", exc))
                raced = "already exists" in said or "duplicate key" in said
                if not raced or attempt == attempts - 1:
                    raise

    def _upgrade(self) -> None:
        """Add the columns a gradebook from an older grader lacks (see the module doc)."""
        present = {column["name"] for column in inspect(self.engine).get_columns("grades")}
        if "name" not in present:
            with self.engine.begin() as connection:
                connection.execute(text("ALTER TABLE grades ADD COLUMN name TEXT"))

    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        try:
            from sqlalchemy.engine import make_url
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - only for a message
            return "(the --db URL)"

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- reading
    def rows(self) -> dict[tuple[str, str], Row]:
        with Session(self.engine) as session:
            rows = session.scalars(select(Row)).all()
            session.expunge_all()
        return {(r.student, r.notebook): r for r in rows}

    def grades(self) -> list[Grade]:
        return [to_grade(r) for r in self.rows().values()]

    # ---------------------------------------------------------------- writing
    def save(self, grade: Grade, content_hash: str, source_hash: str, seed: int,
             timestamp: str | None = None, name: str | None = None) -> None:
        """Write one grade now, in its own transaction (replacing that row only).
        ``timestamp``: the canonical submission time (or "unknown"); ``name``: the
        learner's name as handed in."""
        verdicts = {}
        for exercise, verdict in grade.verdicts.items():
            verdicts[exercise] = dataclasses.asdict(verdict)
        row = Row(student=grade.student, notebook=grade.notebook, status=grade.status,
                  score=grade.score, max_score=grade.max_score, detail=_storable(grade.detail),
                  tampered=json.dumps(list(grade.tampered)), verdicts=json.dumps(verdicts),
                  content_hash=content_hash, source_hash=source_hash, seed=int(seed),
                  timestamp=timestamp, name=None if name is None else _storable(name),
                  graded_at=datetime.now(timezone.utc))
        with Session(self.engine) as session, session.begin():
            session.merge(row)


def _storable(text) -> str:
    """Text any database takes. A message may quote learner output or a file name:
    PostgreSQL's text cannot hold NUL, and no UTF-8 database a lone surrogate (a file
    name that is not UTF-8); they are written as ``\\x00``, ``\\udce9``."""
    text = str(text or "").encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def to_grade(row: Row) -> Grade:
    """The Grade a row was written from (fields a newer grader added are kept if known)."""
    known = _verdict_fields()
    verdicts = {}
    for exercise, fields in json.loads(row.verdicts or "{}").items():
        verdicts[exercise] = Verdict(**{k: v for k, v in fields.items() if k in known})
    return Grade(row.student, row.notebook, row.status, row.max_score, verdicts=verdicts,
                 tampered=list(json.loads(row.tampered or "[]")), detail=row.detail or "")

