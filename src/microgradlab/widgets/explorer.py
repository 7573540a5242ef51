"""derivative_explorer: see the secant turn into the tangent as h shrinks.

The slope of the secant through (x, f(x)) and (x + h, f(x + h)) is

    (f(x + h) - f(x)) / h,

the forward difference. As h -> 0 it approaches f'(x), the derivative.
Slide h down and watch the number (and the line) settle.
"""

from __future__ import annotations

from html import escape

from ._plot import new_figure, png_bytes


def _default_f(x):
    return x**2


def secant_slope(f, x, h):
    if h == 0:
        raise ValueError("h must not be 0: the secant needs two different points")
    return (f(x + h) - f(x)) / h


def true_slope(f, x, df=None):
    """df(x) when given; else a central difference with a tiny step (error ~ h**2)."""
    if df is not None:
        return float(df(x))
    tiny = 1e-5 * max(1.0, abs(x))
    return (f(x + tiny) - f(x - tiny)) / (2 * tiny)


def explorer_figure(f, x, h, df=None, name="f"):
    figure = new_figure()
    axes = figure.add_subplot()
    left, right = min(x, x + h) - 2.0, max(x, x + h) + 2.0
    grid = [left + (right - left) * k / 200 for k in range(201)]
    axes.plot(grid, [f(t) for t in grid], color="#0072B2", label=f"{name}(x)")
    slope = secant_slope(f, x, h)
    fx = f(x)
    axes.plot(grid, [fx + slope * (t - x) for t in grid], "--", color="#D55E00",
              label=f"secant, slope {slope:.4g}")
    tangent = true_slope(f, x, df)
    axes.plot(grid, [fx + tangent * (t - x) for t in grid], ":", color="#009E73",
              label=f"tangent, slope {tangent:.4g}")
    axes.plot([x, x + h], [fx, f(x + h)], "o", color="#D55E00")
    low = min(f(t) for t in grid)
    high = max(f(t) for t in grid)
    axes.set_ylim(low - 0.1 * (high - low + 1), high + 0.1 * (high - low + 1))
    axes.set_xlabel("x")
    axes.legend(loc="best", fontsize=8)
    axes.set_title(f"x = {x:.3g}, h = {h:.3g}")
    return figure


def convergence_rows(f, x, df=None, hs=(1.0, 0.1, 0.01, 0.001, 1e-4)):
    """[(h, secant slope, error)] for shrinking h: the error falls roughly like h."""
    tangent = true_slope(f, x, df)
    return [(h, secant_slope(f, x, h), abs(secant_slope(f, x, h) - tangent)) for h in hs]


def derivative_explorer(f=None, x=3.0, h=1.0, *, df=None, x_range=(-5.0, 5.0)):
    """Sliders for x and h, a plot of f with the secant, and the slopes in numbers.

    ``f``: a function of one float (default x**2); ``df``: its derivative if you
    know it (otherwise a central difference with a tiny step stands in).
    """
    import ipywidgets as widgets

    f = _default_f if f is None else f
    if not callable(f):
        raise TypeError(f"f must be a function of one number, got {type(f).__name__}")
    if h == 0:
        raise ValueError("h must not be 0: the secant needs two different points")
    name = getattr(f, "__name__", "f")
    name = "f" if name in ("<lambda>", "_default_f") else name
    x_slider = widgets.FloatSlider(value=x, min=x_range[0], max=x_range[1], step=0.1,
                                   description="x", continuous_update=False)
    h_slider = widgets.FloatLogSlider(value=abs(h), base=10, min=-4, max=0.5, step=0.1,
                                      description="h", continuous_update=False)
    picture = widgets.Image(format="png")
    numbers = widgets.HTML()
    numbers.add_class("mgl-explorer-numbers")

    def redraw(_=None):
        xv, hv = x_slider.value, h_slider.value
        try:
            picture.value = png_bytes(explorer_figure(f, xv, hv, df, name))
            slope, tangent = secant_slope(f, xv, hv), true_slope(f, xv, df)
            rows = "".join(f"<tr><td>{hh:g}</td><td>{s:.6g}</td><td>{err:.2g}</td></tr>"
                           for hh, s, err in convergence_rows(f, xv, df))
            numbers.value = (
                f"<p>secant slope (f(x+h) - f(x)) / h = <b>{slope:.6g}</b>; "
                f"derivative f'(x) = <b>{tangent:.6g}</b>; "
                f"difference {abs(slope - tangent):.3g}</p>"
                f"<table><tr><th>h</th><th>secant slope</th><th>error</th></tr>{rows}</table>")
        except (ArithmeticError, ValueError) as error:  # e.g. log of a negative x
            numbers.value = f"<p>f cannot be evaluated here: {escape(str(error))}</p>"

    x_slider.observe(redraw, names="value")
    h_slider.observe(redraw, names="value")
    redraw()
    from ._static import png_img, static_box

    # Without a widget front end: the numbers in words and the picture as it stands.
    box = static_box(
        [widgets.HBox([x_slider, h_slider]), picture, numbers],
        lambda: (f"Derivative explorer at x = {x_slider.value:.3g}, h = {h_slider.value:.3g}: "
                 f"secant slope {secant_slope(f, x_slider.value, h_slider.value):.6g}, "
                 f"derivative {true_slope(f, x_slider.value, df):.6g}"),
        lambda: f"<div>{png_img(picture.value, 'secant and tangent')}{numbers.value}</div>")
    box.x_slider, box.h_slider, box.picture, box.numbers = x_slider, h_slider, picture, numbers
    return box


