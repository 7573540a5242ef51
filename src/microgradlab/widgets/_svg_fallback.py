"""A small pure-Python SVG renderer, used when graphviz's ``dot`` is not installed.

The layout is the classic layered one, kept as simple as it can be:

1. **Layers.** Each node's layer is its longest distance from the output, so
   every value sits left of everything computed from it (output on the right).
2. **Order within a layer.** Walking away from the output, each node takes the
   average position of the nodes that use it (the *barycenter*), which keeps
   most edges short and uncrossed.
3. **Coordinates.** Layers become columns (or rows for top-to-bottom); edges
   are cubic curves from one side of a node to the facing side of the next.

A value's fields (label, data, grad) sit side by side, or one above the other
when ``stacked``: a narrower box, for drawings that must fit a narrow column.
"""

from __future__ import annotations

import itertools
from html import escape

from . import _graph
from ._scene import CURRENT_BORDER, CURRENT_FILL, HIGHLIGHT_BORDER, HIGHLIGHT_FILL, Scene

FONT_SIZE = 12     # in the SVG's units, which are points
FONT_PX = FONT_SIZE * 4 / 3  # the text's CSS size when the picture is at its natural size
CHAR_WIDTH = 7.0   # average width of a 12px sans-serif character
FIELD_PAD = 16
BOX_HEIGHT = 34
LINE_HEIGHT = 20   # one field of a stacked box
OP_HEIGHT = 28
LAYER_GAP = 46
NODE_GAP = 12
MARGIN = 12
NOTE_HEIGHT = 18

_marker_ids = itertools.count()  # several drawings on one page need distinct ids


def _text_width(text: str) -> float:
    return CHAR_WIDTH * len(text) + FIELD_PAD


def render(scene: Scene, rankdir: str = "LR", stacked: bool = False) -> str:
    names = [b.name for b in scene.values] + [o.name for o in scene.ops]
    position = {name: i for i, name in enumerate(names)}
    inputs = [[] for _ in names]
    for src, dst in scene.edges:
        inputs[position[dst]].append(position[src])

    # --- 1. layers: reuse the graph walker's longest-path code on the drawing ---
    layout_graph = _graph.Graph(list(range(len(names))), inputs)
    layout_graph.has_cycle = _graph._has_cycle(layout_graph)
    layer = _graph.depth_from_output(layout_graph)
    n_layers = max(layer) + 1

    # --- sizes ---
    sizes = []
    for box in scene.values:
        if stacked:
            sizes.append((max(_text_width(f) for f in box.fields), LINE_HEIGHT * len(box.fields)))
        else:
            sizes.append((sum(_text_width(f) for f in box.fields), BOX_HEIGHT))
    for op in scene.ops:
        sizes.append((max(_text_width(op.text) + 8, 36), OP_HEIGHT))

    # --- 2. order within layers by barycenter of users ---
    users = [[] for _ in names]
    for dst, srcs in enumerate(inputs):
        for src in srcs:
            users[src].append(dst)
    rows = [[] for _ in range(n_layers)]
    rank = [0.0] * len(names)
    for i in sorted(range(len(names)), key=lambda i: (layer[i], i)):
        rows[layer[i]].append(i)
    for depth in range(n_layers):
        if depth > 0:
            def barycenter(i):
                placed = [rank[u] for u in users[i] if layer[u] < depth]
                return sum(placed) / len(placed) if placed else float("inf")
            rows[depth].sort(key=lambda i: (barycenter(i), i))
        for k, i in enumerate(rows[depth]):
            rank[i] = k

    # --- 3. coordinates; first as if left-to-right, output on the right ---
    horizontal = rankdir in ("LR", "RL")
    along = [0.0] * len(names)   # position along the flow of the computation
    across = [0.0] * len(names)  # position within a layer
    layer_extent = []            # size of each layer along the flow
    for depth in range(n_layers):
        extent = max((sizes[i][0] if horizontal else sizes[i][1]) for i in rows[depth])
        layer_extent.append(extent)
    totals_across = []
    for depth in range(n_layers):
        total = sum((sizes[i][1] if horizontal else sizes[i][0]) for i in rows[depth])
        totals_across.append(total + NODE_GAP * (len(rows[depth]) - 1))
    width_across = max(totals_across)
    cursor = 0.0
    for depth in reversed(range(n_layers)):  # the layer farthest from the output first
        for i in rows[depth]:
            along[i] = cursor + layer_extent[depth] / 2
        cursor += layer_extent[depth] + LAYER_GAP
    length_along = cursor - LAYER_GAP
    for depth in range(n_layers):
        offset = (width_across - totals_across[depth]) / 2
        for i in rows[depth]:
            size = sizes[i][1] if horizontal else sizes[i][0]
            across[i] = offset + size / 2
            offset += size + NODE_GAP

    if rankdir in ("RL", "BT"):  # mirror: output on the left / top
        along = [length_along - a for a in along]
    top = MARGIN + NOTE_HEIGHT * len(scene.notes)
    if horizontal:
        centre = [(MARGIN + a, top + c) for a, c in zip(along, across)]
        width, height = length_along + 2 * MARGIN, top + width_across + MARGIN
    else:
        centre = [(MARGIN + c, top + a) for a, c in zip(along, across)]
        width, height = width_across + 2 * MARGIN, top + length_along + MARGIN

    # --- drawing ---
    marker = f"mgl-arrow-{next(_marker_ids)}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}pt" height="{height:.0f}pt" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="{FONT_SIZE}">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>',
        f'<rect width="100%" height="100%" fill="white"/>',
    ]
    for k, note in enumerate(scene.notes):
        out.append(f'<text x="{MARGIN}" y="{MARGIN + 12 + NOTE_HEIGHT * k}">{escape(note)}</text>')

    for src, dst in scene.edges:
        out.append(_edge(centre, sizes, position[src], position[dst], rankdir, marker))
    for i, box in enumerate(scene.values):
        out.append(_box(box, centre[i], sizes[i], stacked))
    for k, op in enumerate(scene.ops):
        i = len(scene.values) + k
        (x, y), (w, h) = centre[i], sizes[i]
        out.append(
            f'<g class="node op" id="{op.name}"><ellipse cx="{x:.1f}" cy="{y:.1f}" '
            f'rx="{w / 2:.1f}" ry="{h / 2:.1f}" fill="#f4f4f4" stroke="#333"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(op.text)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _box(box, centre, size, stacked=False) -> str:
    (x, y), (w, h) = centre, size
    left, top = x - w / 2, y - h / 2
    fill, stroke, thick = ("white", "#333", 1)
    if box.highlighted:
        fill, stroke, thick = (HIGHLIGHT_FILL, HIGHLIGHT_BORDER, 3)
    elif box.current:
        fill, stroke, thick = (CURRENT_FILL, CURRENT_BORDER, 3)
    parts = [
        f'<g class="node value" id="{box.name}"><rect x="{left:.1f}" y="{top:.1f}" '
        f'width="{w:.1f}" height="{h:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="{thick}"/>'
    ]
    cursor = top if stacked else left
    for k, text in enumerate(box.fields):
        weight = ' font-weight="bold"' if (box.highlighted or box.current) and k == 0 else ""
        if stacked:  # one line per field, a rule between them
            if k:
                parts.append(f'<line x1="{left:.1f}" y1="{cursor:.1f}" x2="{left + w:.1f}" '
                             f'y2="{cursor:.1f}" stroke="{stroke}"/>')
            parts.append(f'<text x="{x:.1f}" y="{cursor + LINE_HEIGHT / 2 + 4:.1f}" '
                         f'text-anchor="middle"{weight}>{escape(text)}</text>')
            cursor += LINE_HEIGHT
            continue
        field_width = _text_width(text)
        if k:
            parts.append(f'<line x1="{cursor:.1f}" y1="{top:.1f}" x2="{cursor:.1f}" '
                         f'y2="{top + h:.1f}" stroke="{stroke}"/>')
        parts.append(f'<text x="{cursor + field_width / 2:.1f}" y="{y + 4:.1f}" '
                     f'text-anchor="middle"{weight}>{escape(text)}</text>')
        cursor += field_width
    parts.append("</g>")
    return "".join(parts)


def _edge(centre, sizes, src, dst, rankdir, marker) -> str:
    """A curve leaving ``src`` on the side facing the flow and entering ``dst`` opposite."""
    direction = {"LR": (1, 0), "RL": (-1, 0), "TB": (0, 1), "BT": (0, -1)}[rankdir]
    (sx, sy), (sw, sh) = centre[src], sizes[src]
    (tx, ty), (tw, th) = centre[dst], sizes[dst]
    dx, dy = direction
    x0, y0 = sx + dx * sw / 2, sy + dy * sh / 2
    x1, y1 = tx - dx * tw / 2, ty - dy * th / 2
    bend = max(abs(x1 - x0) if dx else abs(y1 - y0), 20) / 2
    c0 = (x0 + dx * bend, y0 + dy * bend)
    c1 = (x1 - dx * bend, y1 - dy * bend)
    return (f'<path class="edge" d="M{x0:.1f},{y0:.1f} C{c0[0]:.1f},{c0[1]:.1f} '
            f'{c1[0]:.1f},{c1[1]:.1f} {x1:.1f},{y1:.1f}" fill="none" stroke="#333" '
            f'marker-end="url(#{marker})"/>')
