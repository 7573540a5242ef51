"""Seeing and checking: graph drawings, the backward stepper, the derivative
explorer, the training view, flashcards and the self-check panel.

Names are imported on first use, so ``from microgradlab.widgets import draw_dot``
does not pay for ipywidgets or matplotlib.
"""

from importlib import import_module

_WHERE = {
    "draw_dot": ".draw",
    "GraphDrawing": ".draw",
    "BackwardStepper": ".stepper",
    "derivative_explorer": ".explorer",
    "TrainingView": ".training",
    "train_and_plot": ".training",
    "Flashcards": ".flashcards",
    "check_panel": ".check",
}

__all__ = ["draw_dot", "BackwardStepper", "derivative_explorer", "TrainingView",
           "Flashcards", "check_panel"]


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'microgradlab.widgets' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
