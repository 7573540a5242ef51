"""Every item of the lesson sources is taught where docs/seed_checklist.toml says.

Each listed place is a heading of a student notebook (or of README.md) and a phrase the
section under it must hold; this fails when the heading or the phrase is gone.
"""
from __future__ import annotations

import functools
import re
import tomllib

import nbformat
import pytest

from conftest import NOTEBOOK_NAMES, ROOT
from lesson_claims import CLAIM

CHECKLIST = ROOT / "docs" / "seed_checklist.toml"


def load():
    with open(CHECKLIST, "rb") as file:
        return tomllib.load(file)


def flat(text: str) -> str:
    return " ".join(text.split())


@functools.lru_cache(maxsize=None)
def blocks(place: str) -> list[str]:
    """The text of a student notebook (one block per cell) or of README.md (one block)."""
    if place == "README.md":
        return [(ROOT / "README.md").read_text(encoding="utf-8")]
    notebook = nbformat.read(ROOT / "notebooks" / f"{place}.ipynb", as_version=4)
    return [CLAIM.sub(" ", cell.source) for cell in notebook.cells]


def section(place: str, heading: str) -> str | None:
    """The text from the heading that contains `heading` to the next heading of the same
    or a higher level; None when no heading contains it."""
    lines = [line for block in blocks(place) for line in block.splitlines()]
    for start, line in enumerate(lines):
        found = re.match(r"(#+)\s+(.*)", line)
        if found and heading in found.group(2):
            level = len(found.group(1))
            end = next((k for k in range(start + 1, len(lines))
                        if (m := re.match(r"(#+)\s", lines[k])) and len(m.group(1)) <= level),
                       len(lines))
            return flat("\n".join(lines[start:end]))
    return None


ITEMS = load()["item"]


def test_the_checklist_covers_every_source_and_names_real_places():
    data = load()
    assert len(data["seeds"]) == 5
    for seed in data["seeds"]:
        assert sum(item["seed"] == seed for item in ITEMS) >= 5, f"few items for {seed}"
    for item in ITEMS:
        assert set(item) == {"seed", "item", "notebook", "section", "phrase"}, item
        assert item["seed"] in data["seeds"], item
        assert item["notebook"] in NOTEBOOK_NAMES + ["README.md"], item


@pytest.mark.parametrize("item", ITEMS, ids=[f"{i['notebook']}: {i['item'][:50]}" for i in ITEMS])
def test_each_item_is_still_taught_where_listed(item):
    text = section(item["notebook"], item["section"])
    assert text is not None, f"{item['notebook']} has no heading containing {item['section']!r}"
    assert flat(item["phrase"]) in text, (
        f"{item['notebook']}, section {item['section']!r} no longer says {item['phrase']!r} "
        f"(the place of: {item['item']})")


def test_a_removed_place_is_noticed():
    assert section("04_backward", "A heading that does not exist") is None
    text = section("04_backward", "Why gradients add up")
    assert "y = w1 + w1" in text and "What gradients predict" not in text
