"""make_moons: shape, labels, determinism, geometry and argument checks."""
from __future__ import annotations

import math

import pytest

from microgradlab.data import make_moons


def test_shape_and_labels():
    X, y = make_moons(100, noise=0.1, seed=0)
    assert len(X) == len(y) == 100
    assert all(len(point) == 2 and all(isinstance(c, float) for c in point) for point in X)
    assert sorted(set(y)) == [0, 1]
    assert y.count(0) == y.count(1) == 50


def test_odd_sample_count_puts_the_extra_point_on_the_lower_moon():
    _, y = make_moons(101, noise=0.0, seed=0)
    assert (y.count(0), y.count(1)) == (50, 51)


def test_same_seed_same_data_different_seed_different_data():
    assert make_moons(50, noise=0.2, seed=7) == make_moons(50, noise=0.2, seed=7)
    assert make_moons(50, noise=0.2, seed=7)[0] != make_moons(50, noise=0.2, seed=8)[0]


def test_points_are_shuffled():
    _, y = make_moons(100, noise=0.0, seed=0)
    assert y != sorted(y), "labels should not come out grouped by moon"


def test_without_noise_points_lie_on_the_two_half_circles():
    X, y = make_moons(60, noise=0.0, seed=3)
    for (x1, x2), label in zip(X, y):
        if label == 0:  # upper half of the unit circle around (0, 0)
            assert math.isclose(math.hypot(x1, x2), 1.0, abs_tol=1e-12)
            assert x2 >= -1e-12
        else:  # lower half of the unit circle around (1, 0.5)
            assert math.isclose(math.hypot(x1 - 1.0, x2 - 0.5), 1.0, abs_tol=1e-12)
            assert x2 <= 0.5 + 1e-12
    # both ends of each half circle are included
    upper = sorted(p for p, label in zip(X, y) if label == 0)
    assert upper[0] == pytest.approx([-1.0, 0.0], abs=1e-12)
    assert upper[-1] == pytest.approx([1.0, 0.0], abs=1e-12)


def test_noise_moves_points_off_the_circles_by_about_its_size():
    X, y = make_moons(2000, noise=0.1, seed=1)
    offsets = [
        math.hypot(x1, x2) - 1.0 if label == 0 else math.hypot(x1 - 1.0, x2 - 0.5) - 1.0
        for (x1, x2), label in zip(X, y)
    ]
    rms = math.sqrt(sum(o * o for o in offsets) / len(offsets))
    assert 0.07 < rms < 0.13, f"radial spread {rms} should be close to the noise 0.1"


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"n_samples": 1}, ValueError, "at least 2 samples"),
        ({"n_samples": -5}, ValueError, "at least 2 samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples must be a whole number"),
        ({"n_samples": "100"}, TypeError, "n_samples must be a whole number"),
        ({"noise": -0.1}, ValueError, "noise must be >= 0"),
        ({"noise": float("nan")}, ValueError, "noise must be >= 0"),
        ({"noise": "0.1"}, TypeError, "noise must be a number"),
    ],
)
def test_bad_arguments_raise(kwargs, error, words):
    with pytest.raises(error, match=words):
        make_moons(**kwargs)
