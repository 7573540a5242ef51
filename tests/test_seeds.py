"""Seeds come from the course: stable across machines and runs; the course id is read
from nbgrader_config.py without running it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from microgradlab.exercises import _base, get
from microgradlab.exercises.seeds import (SEED_LIMIT, course_seed, exercise_seed,
                                          fresh_seed)
from microgradlab_grader.course import (DEFAULT_CONFIG, CourseError, check_course_id,
                                        course_id_from_config)

ROOT = Path(__file__).resolve().parent.parent


def test_course_seed_is_a_hash_of_course_and_notebook():
    digest = hashlib.sha256(b"microgradlab\x0002_value").digest()
    assert course_seed("microgradlab", "02_value") == int.from_bytes(digest, "big") % 10**9
    assert course_seed("microgradlab", "02_value") == 200369601       # the same everywhere
    seeds = {course_seed("microgradlab", n) for n in ("01_derivatives", "02_value", "06_mlp")}
    assert len(seeds) == 3 and all(0 <= s < SEED_LIMIT < 2**31 for s in seeds)
    assert course_seed("ab", "c") != course_seed("a", "bc")
    with pytest.raises(ValueError, match="course id"):
        course_seed("", "02_value")


def test_exercise_seed_and_the_one_fresh_seed():
    assert exercise_seed(7, "ex02_value") == exercise_seed(7, "ex02_value") == 232839166
    assert exercise_seed(7, "ex02_value") != exercise_seed(8, "ex02_value")
    assert _base.fresh_seed is fresh_seed
    drawn = {fresh_seed() for _ in range(50)}
    assert len(drawn) > 45 and all(0 <= s < SEED_LIMIT for s in drawn)
    seed = exercise_seed(course_seed("microgradlab", "02_value"), "ex02_value")
    assert get("ex02_value").cases(seed) == get("ex02_value").cases(seed)


def test_the_course_id_is_read_from_the_config_without_running_it(tmp_path):
    assert DEFAULT_CONFIG == ROOT / "autograder" / "nbgrader_config.py"
    assert course_id_from_config() == "microgradlab"
    marker = tmp_path / "ran"
    config = tmp_path / "nbgrader_config.py"
    config.write_text(f"c = get_config()\nopen({str(marker)!r}, 'w').write('x')\n"
                      "c.CourseDirectory.course_id = 'first'\n"
                      "c.CourseDirectory.course_id = 'ml-2026'\n")
    assert course_id_from_config(config) == "ml-2026" and not marker.exists()


@pytest.mark.parametrize("text, message", [
    ("c = get_config()\nc.CourseDirectory.course_id = 'ml' + '2026'\n", "not a plain string"),
    ("c = get_config()\nc.Exchange.root = '/x'\n", "sets no c.CourseDirectory.course_id"),
    ("c = get_config(\n", "SyntaxError"),
    ("c = get_config()\nc.CourseDirectory.course_id = 'two\\nlines'\n", "one printable line"),
])
def test_a_course_id_that_cannot_be_read_asks_for_course_id(tmp_path, text, message):
    config = tmp_path / "nbgrader_config.py"
    config.write_text(text)
    with pytest.raises(CourseError, match=message) as caught:
        course_id_from_config(config)
    assert "--course-id" in str(caught.value) or "printable" in str(caught.value)
    with pytest.raises(CourseError, match="--course-id"):
        course_id_from_config(tmp_path / "missing.py")
    with pytest.raises(CourseError):
        check_course_id("")


def test_verify_draws_the_graders_cases_when_the_course_is_named(monkeypatch):
    """nbgrader's kernels get the course id from nbgrader_config.py: verify then draws the
    cases `microgradlab grade` draws for that course (no course named: fresh cases)."""
    import importlib
    from microgradlab.exercises.seeds import COURSE_ENV, graded_seed
    run = importlib.import_module("microgradlab.checking.run")
    exercise = get("ex02_value")
    seen = []
    real = type(exercise).cases
    monkeypatch.setattr(type(exercise), "cases",
                        lambda self, seed=None: seen.append(seed) or real(self, seed))
    monkeypatch.delenv(COURSE_ENV, raising=False)
    assert graded_seed(exercise) is None
    with pytest.raises(AssertionError):
        run.verify("ex02_value", Value=object)
    monkeypatch.setenv(COURSE_ENV, "microgradlab")
    with pytest.raises(AssertionError):
        run.verify("ex02_value", Value=object)
    grader_seed = exercise_seed(course_seed("microgradlab", "02_value"), "ex02_value")
    assert seen == [None, grader_seed]
    assert COURSE_ENV in (ROOT / "autograder" / "nbgrader_config.py").read_text()
