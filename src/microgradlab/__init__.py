"""microgradlab: a small scalar autograd engine to learn backpropagation with.

>>> from microgradlab import Value
>>> x = Value(2.0)
>>> y = x * x + 3 * x
>>> y.backward()
>>> x.grad
7.0
"""

from .engine import Value

__version__ = "0.1.0"
__all__ = ["Value", "draw_dot", "__version__"]


def __getattr__(name):
    # draw_dot is imported on first use so that `import microgradlab` stays light.
    if name == "draw_dot":
        from .widgets.draw import draw_dot

        return draw_dot
    raise AttributeError(f"module 'microgradlab' has no attribute {name!r}")
