"""The learning-rate range test (Smith, CLR §3.3), framework-neutral.

``clrdsl.range_test(model, ...)`` trains for a few hundred updates while the learning
rate climbs along our own ``range_test(start, end, over=steps-1, mode=...)`` schedule,
records the learning rate, the smoothed loss and (optionally) a smoothed metric, stops
when the loss diverges, and puts the model and optimizer back exactly as they were.

The loop, the smoothing and the stopping rule live here; a framework module supplies
only a *session*: ``steps_per_epoch``, ``step(lr) -> (loss, metric or None)`` and a
context manager that snapshots and restores state. The session comes from the backend
(through the registry) whose framework the model belongs to — a backend with the
range-test capability (:class:`clrdsl.contract.backend.RangeTests`) — without importing any
framework up front:

- a ``torch.nn.Module``: ``range_test(model, loss_fn, loader, optimizer, ...)`` (the
  torch backend);
- a compiled ``keras.Model``: ``range_test(model, data=(x, y), batch_size=32, ...)``
  or any iterable of ``(x, y)`` batches (the keras backend).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clrdsl.diagnostics.errors import ClrdslError, ClrdslValueError

if TYPE_CHECKING:  # numpy and the rules load with the first test, not with `import clrdsl`
    import numpy as np

    from clrdsl.tools.suggest import Suggestion

POLICIES = ("triangular", "triangular2", "exp_range", "onecycle")


def ramp_expression(start: float, end: float, steps: int, mode: str = "exp") -> str:
    """The schedule the test climbs, in canonical form: ``steps`` values from ``start`` to
    ``end`` inclusive. Bad bounds raise a clrdsl error pointing into this expression."""
    from clrdsl.api import check

    return check(f"range_test({float(start)!r}, {float(end)!r}, over={int(steps) - 1}, mode={mode})").expr


def range_test(model: Any, loss_fn: Any = None, data: Any = None, optimizer: Any = None, *,
               start: float = 1e-7, end: float = 10.0, steps: int = 100, mode: str = "exp",
               metric: Any = None, val_data: Any = None, smooth: float = 0.05,
               diverge: float = 4.0, rule: str = "auto", progress: bool = False,
               **options: Any) -> "RangeTestResult":
    """Run a learning-rate range test on a torch or Keras model; see the module docstring.

    ``metric``: ``"accuracy"`` or a callable ``(output, target) -> float`` (torch) / a
    compiled metric's name (Keras). ``val_data``: measure loss and metric on this data
    after every update instead of on the training batch. ``smooth``: the weight of a
    new value in the bias-corrected moving average. ``diverge``: stop once the smoothed
    loss exceeds this multiple of its best value (or is not finite). ``rule``: the
    default suggestion rule of the result (see :mod:`clrdsl.tools.suggest`). ``progress``:
    show progress on stderr (a tqdm bar on a terminal, else a start and a final line). Other keyword options go to the framework session (torch:
    ``device``; Keras: ``batch_size`` and ``seed``, which shuffles array data).
    """
    if not isinstance(steps, int) or steps < 5:
        raise ClrdslValueError("a range test needs an integer steps >= 5", code="E706", found=repr(steps))
    if mode not in ("exp", "linear"):
        raise ClrdslValueError(f"unknown mode {mode!r}", code="E706", expected="'exp' or 'linear'",
                               found=repr(mode))
    if not 0 < smooth <= 1 or not diverge > 1:
        raise ClrdslValueError("need 0 < smooth <= 1 and diverge > 1", code="E706",
                               found=f"smooth={smooth}, diverge={diverge}")
    import numpy as np

    from clrdsl.api import compile as _compile
    from clrdsl.tools.suggest import RULES

    if rule not in RULES:
        raise ClrdslValueError(f"unknown suggestion rule {rule!r}", code="E701",
                               expected="one of " + ", ".join(RULES), found=repr(rule))

    expr = ramp_expression(start, end, steps, mode)
    lrs = _compile(expr)(np.arange(steps))
    session = _session_for(model, loss_fn, data, optimizer, ramp=expr, metric=metric, val_data=val_data,
                           **options)

    rec_lr, rec_loss, rec_metric = [], [], []
    ema_loss, ema_metric = _Ema(smooth), _Ema(smooth)
    sm_loss, sm_metric = [], []
    best, stopped = math.inf, None
    bar = _progress_bar(steps, progress)
    with session:
        for i, lr in enumerate(lrs):
            loss, met = session.step(float(lr))
            rec_lr.append(float(lr))
            rec_loss.append(float(loss))
            s = ema_loss.add(float(loss))
            sm_loss.append(s)
            if met is not None:
                rec_metric.append(float(met))
                sm_metric.append(ema_metric.add(float(met)))
            if bar is not None:
                bar.update(1)
            if not math.isfinite(s) or s > diverge * best:
                stopped = i
                break
            best = min(best, s)
    if bar is not None:
        bar.close()
    return RangeTestResult(
        lr=np.array(rec_lr), loss=np.array(rec_loss), smoothed_loss=np.array(sm_loss),
        metric=np.array(rec_metric) if rec_metric else None,
        smoothed_metric=np.array(sm_metric) if sm_metric else None,
        start=float(start), end=float(end), steps=steps, mode=mode, schedule=expr,
        stopped_at=stopped, steps_per_epoch=session.steps_per_epoch, rule=rule,
        metric_name=metric if isinstance(metric, str) else (getattr(metric, "__name__", None) if metric else None),
    )


@dataclass
class RangeTestResult:
    """What a range test measured, with suggestion rules, a DSL expression and a plot.

    ``lr``, ``loss``, ``smoothed_loss`` (and ``metric``, ``smoothed_metric`` when a
    metric was recorded) are aligned arrays, one value per update; ``stopped_at`` is
    the index of the update at which the loss diverged (None if it never did).
    """

    lr: np.ndarray
    loss: np.ndarray
    smoothed_loss: np.ndarray
    metric: np.ndarray | None
    smoothed_metric: np.ndarray | None
    start: float
    end: float
    steps: int
    mode: str
    schedule: str
    stopped_at: int | None = None
    steps_per_epoch: int | None = None
    rule: str = "auto"
    metric_name: str | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def diverged(self) -> bool:
        return self.stopped_at is not None

    def _usable(self) -> slice:
        # the points before divergence: the diverging update itself is left out
        return slice(0, self.stopped_at if self.stopped_at is not None else len(self.lr))

    def suggest(self, rule: str | None = None, *, base_div: float | None = None, **kw: Any) -> Suggestion:
        """Apply a suggestion rule (``auto``, ``paper``, ``loss``, ``steepest``, ``valley``)."""
        from clrdsl.tools.suggest import suggest

        u = self._usable()
        met = None if self.smoothed_metric is None else self.smoothed_metric[u]
        return suggest(self.lr[u], self.smoothed_loss[u], met, rule=rule or self.rule,
                       log_x=self.mode == "exp", base_div=base_div, **kw)

    @property
    def suggestion(self) -> Suggestion:
        """The suggestion of the default rule: ``base, max = result.suggestion``."""
        if "default" not in self._cache:
            self._cache["default"] = self.suggest()
        return self._cache["default"]

    def expression(self, policy: str = "triangular2", epochs_per_half_cycle: float = 4, *,
                   steps_per_epoch: int | None = None, rule: str | None = None,
                   base_div: float | None = None, gamma: float | None = None,
                   epochs: float | None = None, units: str | None = None) -> str:
        """A ready clrdsl expression for ``policy`` with the suggested bounds.

        The half cycle is ``epochs_per_half_cycle`` epochs (the paper advises 2 to 10).
        With ``units="steps"`` (the default when ``steps_per_epoch`` is known, from
        the argument or the data) durations are written in updates, so the string
        compiles with no bindings; with ``units="epochs"`` they are written as ``4ep``
        and need ``steps_per_epoch`` when compiled. ``onecycle`` uses ``epochs`` for its
        total (or the ``total_steps`` binding when omitted) and ``div = max / base``;
        ``exp_range`` uses ``gamma`` (the prelude's default when omitted).
        """
        if policy not in POLICIES:
            raise ClrdslValueError(f"unknown policy {policy!r}", code="E707",
                                   expected="one of " + ", ".join(POLICIES), found=repr(policy))
        base, top = self.suggest(rule, base_div=base_div)
        spe = steps_per_epoch or self.steps_per_epoch
        units = units or ("steps" if spe else "epochs")
        if units not in ("steps", "epochs"):
            raise ClrdslValueError(f"unknown units {units!r}", code="E707",
                                   expected="'steps' or 'epochs'", found=repr(units))
        if units == "steps" and not spe:
            raise ClrdslValueError("units='steps' needs steps_per_epoch (the data had no length)",
                                   code="E707", hint="pass steps_per_epoch= or units='epochs'")

        def dur(ep: float) -> str:
            if units == "epochs":
                return f"{_num(ep)}ep"
            return str(max(1, int(round(ep * (spe or 0)))))  # spe is set whenever units == "steps"

        if policy == "onecycle":
            args = [_num(top)] + ([f"total={dur(epochs)}"] if epochs else []) + [f"div={_num(top / base)}"]
            return f"onecycle({', '.join(args)})"
        out = f"{policy}({_num(base)}, {_num(top)}, step={dur(epochs_per_half_cycle)}"
        if policy == "exp_range" and gamma is not None:
            out += f", gamma={gamma!r}"
        return out + ")"

    def plot(self, path: Any = None, *, rule: str | None = None, ax: Any = None):
        """Plot loss (and metric) against the learning rate with the suggestion marked.

        Saves to ``path`` when given; returns the matplotlib figure.
        """
        import matplotlib
        import numpy as np

        if path is not None and ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig = None
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
        else:
            fig = ax.figure
        u = self._usable()
        ax.plot(self.lr, self.loss, color="0.8", lw=0.8, label="loss")
        ax.plot(self.lr[u], self.smoothed_loss[u], color="C0", label="smoothed loss")
        if self.mode == "exp":
            ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        hi = np.nanmax(self.smoothed_loss[u]) if len(self.lr[u]) else 1.0
        lo = np.nanmin(self.smoothed_loss[u]) if len(self.lr[u]) else 0.0
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.25 * (hi - lo))
        handles = ax.get_legend_handles_labels()
        if self.smoothed_metric is not None:
            ax2 = ax.twinx()
            # accuracy reads in percent, as everywhere else in clrdsl's reports
            pct = self.metric_name == "accuracy"
            name = "accuracy (%)" if pct else self.metric_name or "metric"
            ax2.plot(self.lr[u], self.smoothed_metric[u] * (100 if pct else 1), color="C1", label=f"smoothed {name}")
            ax2.set_ylabel(name)
            h2 = ax2.get_legend_handles_labels()
            handles = (handles[0] + h2[0], handles[1] + h2[1])
        try:
            s = self.suggest(rule)
        except ClrdslValueError:
            s = None
        if s is not None:
            for v, name in ((s.base, "base"), (s.max, "max")):
                line = ax.axvline(v, color="C2" if name == "base" else "C3", ls="--", lw=1)
                handles[0].append(line)
                handles[1].append(f"{name} = {v:.3g} ({s.rule})")
        ax.legend(*handles, loc="upper left", fontsize=8)
        ax.set_title(f"LR range test: {self.schedule}", fontsize=9)
        if path is not None:
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        return fig

    def summary(self) -> str:
        """A few plain lines: what ran, where it stopped, the suggestion."""
        lines = [f"range test: {len(self.lr)} of {self.steps} updates along {self.schedule}"]
        lines.append(f"  stopped at lr={self.lr[self.stopped_at]:.3g} (the loss diverged)"
                     if self.diverged else "  the loss never diverged (consider a larger `end`)")
        try:
            s = self.suggestion
            lines.append(f"  suggestion ({s.rule}): base={s.base:.3g}, max={s.max:.3g}  [{s.why}]")
        except ClrdslValueError as err:
            lines.append(f"  no suggestion: {err.message}")
        return "\n".join(lines)


def endless(data: Any):
    """Batches from a re-iterable (a DataLoader, a list), starting over at its end, as
    the range test runs for as many updates as asked; an error if it yields none."""
    from clrdsl.diagnostics.errors import ClrdslError, ClrdslValueError

    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ClrdslValueError("the range test's data yielded no batches", code="E709")


class _Ema:
    """Bias-corrected exponential moving average with weight ``w`` on each new value."""

    def __init__(self, w: float) -> None:
        self.beta, self.avg, self.n = 1.0 - w, 0.0, 0

    def add(self, x: float) -> float:
        self.n += 1
        self.avg = self.beta * self.avg + (1.0 - self.beta) * x
        return self.avg / (1.0 - self.beta ** self.n) if self.beta < 1 else x


def _num(x: float) -> str:
    """A short literal the grammar accepts: three significant digits."""
    s = f"{float(x):.3g}"
    return s.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def _session_for(model, loss_fn, data, optimizer, **kw):
    """The session of the backend whose framework ``model`` belongs to (found through the
    registry: every backend with the range-test capability is asked)."""
    from clrdsl.contract import registry
    from clrdsl.contract.backend import RangeTests, has, model_roots

    for name in registry.backends.names():
        try:
            b = registry.backends.get(name)
        except ClrdslError:  # a broken plugin is reported where it is used, not here
            continue
        if has(b, RangeTests) and b.handles_model(model):
            return registry.get_backend(name).range_test_session(model, loss_fn, data, optimizer, **kw)
    roots = ", ".join(sorted(r for r in model_roots(model) if r not in ("builtins", "")))
    raise ClrdslValueError(
        f"range_test does not know this model type: {type(model).__module__}.{type(model).__qualname__}",
        code="E708", expected="a model of a backend with the range-test capability "
        "(a torch.nn.Module, a compiled keras.Model)", found=roots or type(model).__name__)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from clrdsl.tools.progress import progress_bar

    return progress_bar(total, "range test", "step")
