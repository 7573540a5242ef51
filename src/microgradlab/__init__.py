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
__all__ = ["Value", "__version__"]
