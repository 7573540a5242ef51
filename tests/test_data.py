"""make_moons: shape, labels, determinism, geometry and argument checks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from microgradlab.data import make_moons


def test_shape_and_labels():
    X, y = make_moons(100, noise=0.1, seed=0)
    assert isinstance(X, np.ndarray) and X.shape == (100, 2) and X.dtype == np.float64
    assert isinstance(y, np.ndarray) and y.shape == (100,) and y.dtype.kind == "i"
    assert sorted(set(y.tolist())) == [0, 1]
    assert (y == 0).sum() == (y == 1).sum() == 50


def test_odd_sample_count_puts_the_extra_point_on_the_lower_moon():
    _, y = make_moons(101, noise=0.0, seed=0)
    assert ((y == 0).sum(), (y == 1).sum()) == (50, 51)


def test_same_seed_same_data_different_seed_different_data():
    for a, b in zip(make_moons(50, noise=0.2, seed=7), make_moons(50, noise=0.2, random_state=7)):
        assert np.array_equal(a, b)
    assert not np.array_equal(make_moons(50, noise=0.2, seed=7)[0], make_moons(50, noise=0.2, seed=8)[0])


def test_no_random_state_draws_from_numpys_global_generator():
    np.random.seed(1337)
    first = make_moons(40, noise=0.1)
    np.random.seed(1337)
    again = make_moons(40, noise=0.1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], make_moons(40, noise=0.1)[0]), "the global state moved on"


def test_generator_and_randomstate_are_used_as_given():
    a = make_moons(30, noise=0.1, random_state=np.random.RandomState(3))[0]
    assert np.array_equal(a, make_moons(30, noise=0.1, random_state=3)[0])
    g1 = make_moons(30, noise=0.1, random_state=np.random.default_rng(3))[0]
    g2 = make_moons(30, noise=0.1, random_state=np.random.default_rng(3))[0]
    assert np.array_equal(g1, g2)


def test_the_demos_numpy_idioms_work():
    X, y = make_moons(n_samples=100, noise=0.1, random_state=0)
    y = y * 2 - 1  # as micrograd's demo writes it
    assert set(y.tolist()) == {-1, 1}
    assert X[:, 0].shape == (100,) and X[:, 1].min() < 0


def test_without_shuffle_the_upper_moon_comes_first():
    _, y = make_moons(10, shuffle=False)
    assert y.tolist() == [0] * 5 + [1] * 5


def test_points_are_shuffled():
    _, y = make_moons(100, noise=0.0, seed=0)
    assert y.tolist() != sorted(y.tolist()), "labels should not come out grouped by moon"


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
    upper = sorted(p for p, label in zip(X.tolist(), y) if label == 0)
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
        ({"random_state": "abc"}, TypeError, "random_state must be None, an int"),
        ({"random_state": 1, "seed": 2}, TypeError, "not both"),
    ],
)
def test_bad_arguments_raise(kwargs, error, words):
    with pytest.raises(error, match=words):
        make_moons(**kwargs)
