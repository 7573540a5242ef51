"""Small data sets, generated without any dependency."""

from __future__ import annotations

import math
import random
from numbers import Real

__all__ = ["make_moons"]


def make_moons(n_samples=100, noise=0.1, seed=None):
    """Two interleaving half circles in the plane.

    Returns ``(X, y)``: X is a list of ``[x1, x2]`` points and y a list of
    labels, 0 for the upper moon and 1 for the lower one. Points are shuffled;
    ``noise`` is the standard deviation of Gaussian noise added to each
    coordinate. The same ``seed`` gives the same points on every machine.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int):
        raise TypeError(
            f"n_samples must be a whole number, got {type(n_samples).__name__} {n_samples!r}"
        )
    if isinstance(noise, bool) or not isinstance(noise, Real):
        raise TypeError(f"noise must be a number, got {type(noise).__name__} {noise!r}")
    if n_samples < 2:
        raise ValueError(f"make_moons needs at least 2 samples, got {n_samples}")
    if not noise >= 0:  # also rejects nan
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = random.Random(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    points = []
    for i in range(n_upper):  # upper moon: the half circle of radius 1 around (0, 0)
        t = math.pi * i / (n_upper - 1) if n_upper > 1 else 0.0
        points.append(([math.cos(t), math.sin(t)], 0))
    for i in range(n_lower):  # lower moon: flipped and shifted to (1, 0.5)
        t = math.pi * i / (n_lower - 1) if n_lower > 1 else 0.0
        points.append(([1.0 - math.cos(t), 0.5 - math.sin(t)], 1))
    rng.shuffle(points)
    X = [[x1 + rng.gauss(0.0, noise), x2 + rng.gauss(0.0, noise)] for (x1, x2), _ in points]
    y = [label for _, label in points]
    return X, y
