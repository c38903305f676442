"""How a compiled schedule shows itself in a notebook (IPython's display protocol).

``Compiled`` objects (NumPy, Keras, JAX schedules) have ``_repr_png_``,
``_repr_html_`` and ``_repr_pretty_`` hooks that call into this module:

- **PNG**: the same figure as ``clrdsl plot`` (phase and cycle boundaries marked,
  an epoch axis when ``steps_per_epoch`` is bound), drawn with matplotlib's Agg canvas.
- **HTML**: the expression, its length, then the PNG inline — or, when matplotlib is
  not installed, the terminal plot of ``clrdsl plot`` in a ``<pre>`` block.
- **Text** (``_repr_pretty_``, a plain IPython shell): the repr and the terminal plot.

Nothing here is imported until a notebook asks; matplotlib is optional.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

WIDTH, HEIGHT = 60, 12  # the terminal plot, in characters


def _series(compiled: Any):
    from clrdsl.tools.plot import default_steps, series

    checked = compiled.checked
    return [series(checked, default_steps([checked]))]


def _spe(compiled: Any) -> int | None:
    return compiled.checked.bindings_dict.get("steps_per_epoch")


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def png(compiled: Any) -> bytes | None:
    """The figure as PNG bytes, or None without matplotlib (IPython then skips it)."""
    if not has_matplotlib():
        return None
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from clrdsl.tools.plot import figure

    with matplotlib.rc_context({"figure.max_open_warning": 0}):
        fig = figure(_series(compiled), steps_per_epoch=_spe(compiled))
        FigureCanvasAgg(fig)  # no pyplot window, whatever the notebook's backend
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": "clrdsl"})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def text(compiled: Any) -> str:
    """The repr and the terminal plot (the fallback without matplotlib)."""
    from clrdsl.tools.plot import terminal

    return f"{compiled!r}\n{_summary(compiled)}\n" + terminal(
        _series(compiled), width=WIDTH, height=HEIGHT, steps_per_epoch=_spe(compiled))


def _summary(compiled: Any) -> str:
    n = compiled.length
    length = "unbounded (cyclic)" if math.isinf(n) else f"{int(n)} updates"
    b = ", ".join(f"{k}={v}" for k, v in sorted(compiled.bindings.items()))
    return f"length: {length}" + (f"; bindings: {b}" if b else "")


def to_html(compiled: Any) -> str:
    head = (f"<div class=\"clrdsl-schedule\"><code>{html.escape(compiled.expr)}</code>"
            f"<br><small>{html.escape(_summary(compiled))}</small><br>")
    data = png(compiled)
    if data is not None:
        b64 = base64.b64encode(data).decode("ascii")
        return head + f'<img alt="schedule plot" src="data:image/png;base64,{b64}"/></div>'
    from clrdsl.tools.plot import terminal

    plot = terminal(_series(compiled), width=WIDTH, height=HEIGHT, steps_per_epoch=_spe(compiled))
    return head + f"<pre>{html.escape(plot)}</pre></div>"


def pretty(compiled: Any, p: Any, cycle: bool) -> None:
    p.text(repr(compiled) if cycle else text(compiled))
