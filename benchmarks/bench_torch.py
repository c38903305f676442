"""The torch backend against torch's own schedulers and a bare Python function, in one run.

    python benchmarks/bench_torch.py [--steps 20000] [--inductor]

Table 1: the cost of one ``sched.step()`` (advance one update, write the optimizer's
rate) for the same policy in three forms: the clrdsl scheduler, torch's built-in
(``CyclicLR`` / ``OneCycleLR`` / ``CosineAnnealingWarmRestarts``), and a bare Python
function of ``t`` that writes ``group["lr"]`` (the floor: no scheduler at all). The
target is ours <= 0.5x the torch built-in.

Table 2: recompiles of a ``torch.compile``d optimizer step over 100 rate changes,
with the rate a float (torch's default) and with ``capturable=True``.
"""

from __future__ import annotations

import argparse
import logging
import math
import timeit
import warnings

import torch
from torch.optim import lr_scheduler as L

import clrdsl

BASE, TOP, STEP, GAMMA = 0.001, 0.006, 2000, 0.99994


def _opt(momentum=0.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(4))], lr=0.1, momentum=momentum)


class Bare:
    """The floor: a plain function of t writing the rate, nothing else."""

    def __init__(self, opt, fn):
        self.group, self.fn, self.t = opt.param_groups[0], fn, 0
        self.group["lr"] = fn(0)

    def step(self):
        self.t += 1
        self.group["lr"] = self.fn(self.t)


def _tri(t):
    cycle = math.floor(1 + t / (2 * STEP))
    x = abs(t / STEP - 2 * cycle + 1)
    return max(0.0, 1.0 - x), cycle


def bare_triangular(t):
    f, _ = _tri(t)
    return BASE + (TOP - BASE) * f


def bare_triangular2(t):
    f, cycle = _tri(t)
    return BASE + (TOP - BASE) * f / 2.0 ** (cycle - 1)


def bare_exp_range(t):
    f, _ = _tri(t)
    return BASE + (TOP - BASE) * f * GAMMA**t


def bare_onecycle(t, total=100_000, top=0.1, pct=0.3):
    up = pct * total - 1
    lo, end = top / 25, top / 25 / 1e4
    if t <= up:
        return top + (lo - top) / 2 * (math.cos(math.pi * t / up) + 1)
    p = min((t - up) / (total - 1 - up), 1.0)
    return end + (top - end) / 2 * (math.cos(math.pi * p) + 1)


def bare_restarts(t, t0=1000, top=0.1):
    return top / 2 * (math.cos(math.pi * (t % t0) / t0) + 1)


POLICIES = [
    ("triangular", "triangular(0.001, 0.006, step=2000)",
     lambda o: L.CyclicLR(o, BASE, TOP, step_size_up=STEP, cycle_momentum=False), bare_triangular),
    ("triangular2", "triangular2(0.001, 0.006, step=2000)",
     lambda o: L.CyclicLR(o, BASE, TOP, step_size_up=STEP, mode="triangular2", cycle_momentum=False),
     bare_triangular2),
    ("exp_range", "triangular(0.001, 0.006, step=2000) * exp(gamma=0.99994, on=iterations)",
     lambda o: L.CyclicLR(o, BASE, TOP, step_size_up=STEP, mode="exp_range", gamma=GAMMA, cycle_momentum=False),
     bare_exp_range),
    ("onecycle", "onecycle(0.1, total=100000)",
     lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=100_000, cycle_momentum=False), bare_onecycle),
    ("warm restarts", "cosine_restarts(0.1, period=1000)",
     lambda o: L.CosineAnnealingWarmRestarts(o, T_0=1000), bare_restarts),
]


def per_step(make, steps, repeat=5):
    best = math.inf
    for _ in range(repeat):
        s = make()
        best = min(best, timeit.timeit(s.step, number=steps) / steps)
    return best * 1e6


def step_table(steps):
    rows = []
    for name, expr, torch_make, bare in POLICIES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's step-order warning for the built-ins
            t_torch = per_step(lambda: torch_make(_opt()), steps)
        t_ours = per_step(lambda: clrdsl.compile(expr, backend="torch", optimizer=_opt()), steps)
        t_bare = per_step(lambda: Bare(_opt(), bare), steps)
        rows.append((name, t_torch, t_ours, t_bare))
    print(f"\nsched.step(): microseconds per update ({steps} updates, best of 5)")
    print(f"{'policy':<14} {'torch built-in':>14} {'clrdsl':>8} {'bare fn':>8} {'clrdsl/torch':>13} "
          f"{'clrdsl/bare':>12}")
    for name, a, b, c in rows:
        print(f"{name:<14} {a:>14.2f} {b:>8.2f} {c:>8.2f} {b / a:>12.2f}x {b / c:>11.2f}x")
    worst = max(b / a for _, a, b, _ in rows)
    print(f"worst clrdsl/torch ratio: {worst:.2f}x (target <= 0.5x): {'PASS' if worst <= 0.5 else 'MISS'}")

    # a jump costs what a step costs: every value is computed from the step alone
    s = clrdsl.compile(POLICIES[2][1], backend="torch", optimizer=_opt())
    positions = [(i * 7919) % 10**7 for i in range(2000)]
    it = iter(positions * 10)
    jump = min(timeit.repeat(lambda: s.set_step(next(it)), number=1000, repeat=5)) / 1000 * 1e6
    same = min(timeit.repeat(lambda: s.set_step(1234), number=steps, repeat=5)) / steps * 1e6
    print(f"set_step to a far position: {jump:.2f} us; set_step to the same update "
          f"(gradient accumulation): {same:.2f} us")


def phases_table(steps):
    """Cost per step against the number of phases of a sequence (target: 1,000 phases
    <= 1.5x one phase): only the current phase runs, found by bisection."""
    print(f"\nsched.step() against the number of phases ({steps} updates, best of 5)")
    print(f"{'phases':>7} {'us/step':>8} {'ratio to 1 phase':>17}")
    base = None
    for n in (1, 10, 100, 1000):
        expr = " >> ".join(f"linear({0.1 + i % 7 * 0.01}, 0.05, over={steps // n + 1})" for i in range(n))
        us = per_step(lambda: clrdsl.compile(expr, backend="torch", optimizer=_opt()), steps)
        base = base or us
        print(f"{n:>7} {us:>8.2f} {us / base:>16.2f}x")
    print(f"1,000 phases / 1 phase: {us / base:.2f}x (target <= 1.5x): {'PASS' if us / base <= 1.5 else 'MISS'}")


class _RecompileLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record):
        self.count += "Recompiling function" in record.getMessage()


def recompiles(capturable, backend, changes=100):
    import torch._dynamo

    torch._dynamo.reset()
    log = _RecompileLog()
    torch._logging.set_logs(recompiles=True)
    logging.getLogger("torch._dynamo").addHandler(log)
    try:
        model = torch.nn.Linear(16, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = clrdsl.compile("triangular(0.01, 0.1, step=7)", backend="torch", optimizer=opt,
                               capturable=capturable)
        step = torch.compile(opt.step, backend=backend)
        x, y = torch.randn(8, 16), torch.randn(8, 1)
        for _ in range(changes + 1):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            step()
            sched.step()
    finally:
        logging.getLogger("torch._dynamo").removeHandler(log)
        torch._logging.set_logs()
    return log.count


def compile_table(inductor):
    backends = ["aot_eager"] + (["inductor"] if inductor else [])
    print("\ntorch.compile(optimizer.step): recompiles over 100 rate changes (from the recompile log)")
    print(f"{'backend':<10} {'float lr':>9} {'capturable=True':>16}")
    for b in backends:
        print(f"{b:<10} {recompiles(False, b):>9} {recompiles(True, b):>16}")
    print("(a float rate recompiles until torch's recompile limit, then runs uncompiled)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--inductor", action="store_true", help="also time the inductor backend (slow on CPU)")
    ap.add_argument("--no-compile", action="store_true", help="skip the recompile table")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, clrdsl {clrdsl.__version__}")
    step_table(args.steps)
    phases_table(args.steps)
    if not args.no_compile:
        compile_table(args.inductor)


if __name__ == "__main__":
    main()
