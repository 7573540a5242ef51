"""A widget that also says what it shows in text/plain and text/html.

A front end with a widget manager (JupyterLab, Notebook 7) draws the live
widget from its view; nbclient's saved outputs, ``nbconvert --to html``, VS
Code without the widget renderer and GitHub's viewer fall back to the other
representations, which by default read ``VBox(children=(...``. Every widget
of this package puts its current state there instead.
"""

from __future__ import annotations

import base64

_box_class = None


def static_box(children, text, html):
    """An ``ipywidgets.VBox`` of ``children`` whose fallbacks are ``text()`` and ``html()``."""
    global _box_class
    if _box_class is None:
        import ipywidgets as widgets

        class StaticBox(widgets.VBox):
            def _repr_mimebundle_(self, **kwargs):
                return with_fallbacks(super()._repr_mimebundle_(**kwargs),
                                      self._text(), self._html())

        _box_class = StaticBox
    box = _box_class(children)
    box._text, box._html = text, html
    return box


def with_fallbacks(bundle, text: str, html: str) -> dict:
    bundle = dict(bundle or {})
    bundle["text/plain"] = text
    bundle["text/html"] = html
    return bundle


def png_img(data: bytes, alt: str) -> str:
    """An <img> with the PNG inline, so a saved page needs no other file."""
    if not data:
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<img alt="{alt}" style="max-width:100%" '
            f'src="data:image/png;base64,{encoded}">')
