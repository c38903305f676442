"""Suggestion rules: from a range test's curves to a (base, max) pair of learning rates.

Every rule reads plain arrays (the learning rates tried, the smoothed loss, and the
smoothed metric when one was recorded), only up to the point where the test stopped,
and returns a :class:`Suggestion`. No framework is imported here.

Rules (all heuristics; the docs say so, and so should anyone quoting their numbers):

``paper``
    Smith's reading of the test (CLR, arXiv 1506.01186, §3.3), on the metric
    (accuracy): ``base`` where the metric starts to improve (from there on it stays
    above ``lo`` = 10% of its total gain), ``max`` where it slows down (from there on
    it stays above ``hi`` = 90% of its gain). The gain is measured from the starting
    level (the median of the first tenth of the test) to the metric's peak, and only
    points up to the peak count, so a metric that turns ragged or falls ends the search.
``loss``
    The same reading on the smoothed loss: ``base`` where the loss has made (and keeps)
    10% of its total drop, ``max`` where it has made 90% of it (before its minimum).
``steepest``
    ``max`` where the smoothed loss falls fastest per unit of log learning rate
    (per unit of learning rate for a linear test), before its minimum; the rule of
    torch-lr-finder and Lightning. ``base = max / 4``.
``valley``
    The valley is the stretch from where the smoothed loss has made 10% of its drop
    to its minimum; ``max`` lies two thirds of the way along it (in test steps, so
    in log learning rate for an exponential test). Our own rule in the spirit of
    fastai's ``valley``. ``base = max / 4``.
``auto``
    ``paper`` when a metric was recorded, else ``valley``.

``base_div`` (any rule) replaces the rule's base by ``max / base_div``: Smith's
alternative of a base at a third or a quarter of the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clrdsl.diagnostics.errors import ClrdslValueError

RULES = ("auto", "paper", "loss", "steepest", "valley")
DEFAULT_BASE_DIV = 4.0


@dataclass(frozen=True)
class Suggestion:
    """A suggested pair of bounds; unpacks as ``base, max = suggestion``."""

    base: float
    max: float
    rule: str
    base_index: int
    max_index: int
    why: str

    def __iter__(self):
        return iter((self.base, self.max))

    def __repr__(self) -> str:
        return f"Suggestion(base={self.base:.3g}, max={self.max:.3g}, rule={self.rule!r})"


def suggest(lr, loss, metric=None, *, rule: str = "auto", log_x: bool = True,
            base_div: float | None = None, lo: float = 0.1, hi: float = 0.9) -> Suggestion:
    """Apply a suggestion rule to the curves of a range test.

    ``lr``, ``loss`` (smoothed) and ``metric`` (smoothed, higher is better, or None)
    are arrays of equal length covering only the steps before divergence.
    ``log_x`` says whether the test was exponential (slopes are taken against log lr).
    """
    if rule not in RULES:
        raise ClrdslValueError(f"unknown suggestion rule {rule!r}", code="E701",
                               expected="one of " + ", ".join(RULES), found=repr(rule))
    if not 0 <= lo < hi <= 1:
        raise ClrdslValueError("need 0 <= lo < hi <= 1", code="E702", found=f"lo={lo}, hi={hi}")
    if base_div is not None and not base_div > 1:
        raise ClrdslValueError("base_div must be > 1 (the base is max / base_div)", code="E702",
                               found=repr(base_div))
    lr = np.asarray(lr, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    metric = None if metric is None else np.asarray(metric, dtype=np.float64)
    if len(lr) < 5:
        raise ClrdslValueError(
            f"a range test needs at least 5 steps before it diverges to suggest anything "
            f"(it has {len(lr)})", code="E703",
            hint="start lower (a smaller `start`) or take more steps")
    if rule == "auto":
        rule = "paper" if metric is not None else "valley"
    if rule == "paper":
        if metric is None:
            raise ClrdslValueError("the `paper` rule reads a metric (accuracy), and this test recorded "
                                   "none", code="E704", hint="pass metric= to the range test, or use "
                                   "rule='loss'")
        b, m = _gain_points(metric, lo, hi, "metric")
        out: tuple[int | None, int, str] = (b, m, f"metric made {lo:.0%} of its gain at base, {hi:.0%} at max")
    elif rule == "loss":
        b, m = _gain_points(-loss, lo, hi, "loss")
        out = (b, m, f"loss made {lo:.0%} of its drop at base, {hi:.0%} at max")
    elif rule == "steepest":
        m = _steepest(lr, loss, log_x)
        out = (None, m, "steepest fall of the smoothed loss")
    else:
        start, _ = _gain_points(-loss, lo, 1.0, "loss")
        end = int(np.argmin(loss))
        m = start + (2 * (end - start)) // 3
        out = (None, m, "two thirds along the loss valley")
    b_or_none, m, why = out
    if base_div is not None or b_or_none is None:
        div = DEFAULT_BASE_DIV if base_div is None else float(base_div)
        base = float(lr[m]) / div
        b = int(np.searchsorted(lr, base)) if np.all(np.diff(lr) > 0) else m
        why += f"; base = max / {div:g}"
    else:
        b = b_or_none
        base = float(lr[b])
    return Suggestion(base=base, max=float(lr[m]), rule=rule, base_index=int(b), max_index=int(m), why=why)


def _start_level(y: np.ndarray) -> float:
    # the starting level: the median of the first tenth of the curve (at least one point)
    return float(np.median(y[: max(1, len(y) // 10)]))


def _gain_points(y: np.ndarray, lo: float, hi: float, what: str) -> tuple[int, int]:
    """First indices where ``y`` (higher is better) has made ``lo`` and ``hi`` of its gain
    from its starting level to its peak; only points up to the peak count."""
    peak = int(np.argmax(y))
    y0 = _start_level(y)
    gain = y[peak] - y0
    if not gain > 0 or peak < max(1, len(y) // 10):  # a best value inside the starting stretch is no gain
        raise ClrdslValueError(
            f"the {what} never improved during the range test", code="E705",
            hint="raise `end` (or take more steps) so the test reaches learning rates that train")
    upto = y[: peak + 1]

    def settled(frac: float) -> int:
        # the first index from which the curve stays past the threshold (up to the peak),
        # so a lucky early batch does not count as improvement
        below = np.flatnonzero(upto < y0 + frac * gain)
        return int(below[-1]) + 1 if len(below) else 0

    return settled(lo), settled(hi)


def _steepest(lr: np.ndarray, loss: np.ndarray, log_x: bool) -> int:
    end = int(np.argmin(loss))
    skip = max(1, len(loss) // 10)  # the first points of an EMA are noise
    if end - skip < 2:
        return end
    x = np.log(lr) if log_x else lr
    slope = np.gradient(loss[: end + 1], x[: end + 1])
    return skip + int(np.argmin(slope[skip:end + 1]))
