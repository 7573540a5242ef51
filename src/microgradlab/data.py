"""Small data sets: the two moons, as scikit-learn's ``make_moons`` gives them."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = ["make_moons"]

_NOT_GIVEN = object()


def _random_source(random_state):
    """What to draw from, with scikit-learn's meaning of ``random_state``.

    None: numpy's global generator (so ``np.random.seed(...)`` before the call
    reproduces the data, as in micrograd's demo); an int: a fresh
    ``RandomState`` seeded with it; a ``RandomState`` or ``Generator``: itself.
    """
    if random_state is None:
        return np.random.mtrand._rand  # the generator np.random.seed() seeds
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    raise TypeError(
        "random_state must be None, an int, or a numpy RandomState/Generator, got "
        f"{type(random_state).__name__} {random_state!r}"
    )


def make_moons(n_samples=100, *, shuffle=True, noise=None, random_state=None, seed=_NOT_GIVEN):
    """Two interleaving half circles in the plane.

    Returns ``(X, y)`` as numpy arrays: X of shape (n_samples, 2) (floats), y
    of shape (n_samples,) with 0 for the upper moon and 1 for the lower one
    (the lower one gets the extra point when n_samples is odd). ``noise`` is
    the standard deviation of Gaussian noise added to every coordinate (None
    or 0: none). ``random_state`` as in scikit-learn (see _random_source);
    ``seed`` is another name for it. Want plain lists? ``X.tolist()``.
    """
    if seed is not _NOT_GIVEN:
        if random_state is not None:
            raise TypeError("give random_state or seed (the same thing), not both")
        random_state = seed
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral):
        raise TypeError(
            f"n_samples must be a whole number, got {type(n_samples).__name__} {n_samples!r}"
        )
    if noise is not None and (isinstance(noise, bool) or not isinstance(noise, Real)):
        raise TypeError(f"noise must be a number, got {type(noise).__name__} {noise!r}")
    if n_samples < 2:
        raise ValueError(f"make_moons needs at least 2 samples, got {n_samples}")
    if noise is not None and not noise >= 0:  # also rejects nan
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = _random_source(random_state)

    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    # upper moon: the half circle of radius 1 around (0, 0);
    # lower moon: the same, flipped and moved to (1, 0.5)
    X = np.column_stack([
        np.concatenate([np.cos(t_upper), 1.0 - np.cos(t_lower)]),
        np.concatenate([np.sin(t_upper), 0.5 - np.sin(t_lower)]),
    ])
    y = np.concatenate([np.zeros(n_upper, dtype=np.intp), np.ones(n_lower, dtype=np.intp)])
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    if noise:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y
