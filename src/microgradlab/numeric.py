"""Derivatives by nudging: the numbers of notebook 01, for later notebooks to reuse.

A derivative is the slope of f at x: how much f(x) moves per unit of x, for a
tiny move. We cannot take the move to 0 on a computer, so we take a small h:

* forward difference:  (f(x + h) - f(x)) / h          error about h * f''(x) / 2
* central difference:  (f(x + h) - f(x - h)) / (2h)    error about h**2 * f'''(x) / 6

The central difference is far more accurate for the same h. Neither can use a
very small h: f(x + h) - f(x) then loses most of its digits to rounding.
"""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["forward_difference", "central_difference", "numerical_gradient", "gradient_descent"]


def _check_step(h):
    if isinstance(h, bool) or not isinstance(h, Real) or not math.isfinite(h) or h == 0:
        raise ValueError(f"the step h must be a finite non-zero number, got {h!r}")


def _check_function(f):
    if not callable(f):
        raise TypeError(f"f must be a function, got {type(f).__name__} {f!r}")


def forward_difference(f, x, h=1e-6):
    """Slope of f at x from one step forward: (f(x + h) - f(x)) / h."""
    _check_function(f)
    _check_step(h)
    return (f(x + h) - f(x)) / h


def central_difference(f, x, h=1e-6):
    """Slope of f at x from one step each way: (f(x + h) - f(x - h)) / (2h)."""
    _check_function(f)
    _check_step(h)
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f, point, h=1e-6):
    """The partial derivatives of f(*point), one central difference per coordinate.

    d f / d x_i  ~  (f(..., x_i + h, ...) - f(..., x_i - h, ...)) / (2h)

    ``point`` is not modified; a list of len(point) floats is returned.
    """
    _check_function(f)
    _check_step(h)
    point = list(point)
    partials = []
    for i in range(len(point)):
        up = point.copy()
        down = point.copy()
        up[i] += h
        down[i] -= h
        partials.append((f(*up) - f(*down)) / (2 * h))
    return partials


def gradient_descent(grad, start, lr, steps):
    """Walk downhill: x <- x - lr * grad(*x), ``steps`` times.

    Returns the ``steps + 1`` points visited (lists), the start first, so you
    can draw the path. ``grad(*x)`` must return a list with one partial per
    coordinate.
    """
    if not callable(grad):
        raise TypeError(f"grad must be a function, got {type(grad).__name__} {grad!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
    x = [float(v) for v in start]
    path = [x]
    for _ in range(steps):
        g = list(grad(*x))
        if len(g) != len(x):
            raise ValueError(f"grad returned {len(g)} partials for a point with {len(x)} coordinates")
        x = [xi - lr * gi for xi, gi in zip(x, g)]  # a new list: earlier points stay as they were
        path.append(x)
    return path
