"""Write printable flashcards (one card per page) for every notebook.

Reads the notebook sources solutions/*/*.py, finds each ``Flashcards(title, cards)``
call with ``ast`` (the arguments must be literals), and writes
``<out>/flashcards_<title>.html`` per deck. No notebook is run.

    python scripts/print_flashcards.py printable/
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def find_decks(source: str, filename: str = "<source>") -> list[tuple[str, list]]:
    """Every Flashcards(...) call in a Python source, as (title, cards)."""
    decks = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and _called_name(node.func) == "Flashcards"):
            continue
        arguments = {"title": None, "cards": None}
        for name, value in zip(("title", "cards"), node.args):
            arguments[name] = value
        for keyword in node.keywords:
            if keyword.arg in arguments:
                arguments[keyword.arg] = keyword.value
        if None in arguments.values():
            raise ValueError(f"{filename}:{node.lineno}: Flashcards needs a title and cards")
        try:
            decks.append((ast.literal_eval(arguments["title"]),
                          ast.literal_eval(arguments["cards"])))
        except ValueError as error:
            raise ValueError(f"{filename}:{node.lineno}: the Flashcards arguments must be "
                             f"plain literals (strings in a list of pairs): {error}") from None
    return decks


def _called_name(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):  # widgets.Flashcards(...)
        return func.attr
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the HTML files (created if missing)")
    parser.add_argument("--sources", type=Path, default=REPO / "solutions",
                        help="folder holding NN_name/NN_name.py (default: solutions/)")
    args = parser.parse_args(argv)

    from microgradlab.widgets.flashcards import Flashcards

    sources = sorted(args.sources.glob("*/*.py"))
    if not sources:
        print(f"no notebook sources found under {args.sources}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sources:
        for title, cards in find_decks(path.read_text(encoding="utf-8"), str(path)):
            deck = Flashcards(title, cards)
            written = deck.save_html(args.out / deck.file_name)
            print(f"{written}: {len(deck.cards)} cards (from {path.relative_to(args.sources)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
