"""Resume is bit for bit: checkpoint at step k, reload in a fresh process, continue.

For every standard-library shape (each plugin function and each prelude definition), a
small model is trained for N updates with the torch backend driving its optimizer. At
update K the model, optimizer and scheduler states are written with ``torch.save``. A
fresh Python process rebuilds everything from scratch, loads the checkpoint and trains
on to N. Its rates, momenta and final weights must equal the uninterrupted run's
exactly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

import clrdsl

torch = pytest.importorskip("torch")

N, K = 48, 19

CASES = {
    "triangular": ("sgd", "triangular(0.01, 0.06, step=7, step_down=11)"),
    "triangular2": ("sgd", "triangular2(0.01, 0.06, step=5)"),
    "exp_range": ("sgd", "exp_range(0.01, 0.06, step=5, gamma=0.97)"),
    "exp_on_cycle": ("sgd", "triangular(0.01, 0.06, step=4) * exp(gamma=0.7, on=cycle)"),
    "inline_scale": ("sgd", "triangular(0.01, 0.06, step=4) * scale(0.5 * (1 + sin(x * pi / 2)), on=cycle)"),
    "constant": ("sgd", "constant(0.05, over=20) >> constant(0.01)"),
    "linear": ("sgd", "linear(0.001, 0.05, over=30)"),
    "cosine": ("sgd", "cosine(0.05, 0.001, over=40)"),
    "exponential": ("sgd", "exponential(0.05, 0.0005, over=40)"),
    "poly": ("sgd", "poly(0.05, 0, over=35, power=2)"),
    "interp": ("sgd", "interp(0.05, 0.01, over=10, kind=cos) >> interp(0.01, 0.03, over=10, kind=exp)"
               " >> interp(0.03, 0.001, over=10, kind=sqrt) >> interp(0.001, 0.02, over=10)"),
    "range_test": ("sgd", "range_test(1e-4, 0.1, over=30) >> range_test(1e-3, 0.05, over=10, mode=linear)"),
    "cosine_restarts": ("sgd", "cosine_restarts(0.1, 0.001, period=5, mult=2, decay=0.8)"),
    "stairs": ("sgd", "take(step_decay(0.05, every=7, gamma=0.5), over=15) >> hard_restarts(0.05, warmup=3, total=20, "
               "cycles=3) >> poly_cycles(0.05, 0.001, over=6)"),
    "cycles": ("sgd", "take(stepwise(0.05, every=9) * exp(gamma=0.9, on=cycle), over=20) >> "
               "cosine_cycles(0.05, 0.001, cycles=4, over=30)"),
    "onecycle": ("adam", {"lr": "onecycle(0.05, total=40)", "momentum": "onecycle_momentum(total=40)"}),
    "onecycle_three_phase": ("sgd_momentum", {
        "lr": "onecycle(0.05, total=40, three_phase=true, anneal=linear)",
        "momentum": "onecycle_momentum(total=40, three_phase=true, anneal=linear)"}),
    "warmup_cosine": ("adamw", "warmup_cosine(0.05, warmup=8, decay=30, end=0.001)"),
    "wsd": ("sgd_momentum", {"lr": "wsd(0.05, warmup=5, stable=10, decay=20, kind=sqrt)",
                             "weight_decay": "linear(0, 1e-3, over=40)"}),
    "per_group_relative": ("groups", {"lr": {"body": "onecycle(1, total=40)", 1: "cosine(1, 0.1, over=30)"}}),
}


def _build(opt_kind, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    ps = list(model.parameters())
    if opt_kind == "sgd":
        opt = torch.optim.SGD(ps, lr=0.1)
    elif opt_kind == "sgd_momentum":
        opt = torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4)
    elif opt_kind == "adam":
        opt = torch.optim.Adam(ps, lr=0.1)
    elif opt_kind == "adamw":
        opt = torch.optim.AdamW(ps, lr=0.1)
    else:  # two named groups at different base rates
        opt = torch.optim.SGD([{"params": ps[:2], "name": "body", "lr": 0.05},
                               {"params": ps[2:], "name": "head", "lr": 0.2}], lr=0.1, momentum=0.5)
    return model, opt


def _make(name):
    opt_kind, spec = CASES[name]
    model, opt = _build(opt_kind)
    sched = clrdsl.compile(spec, backend="torch", optimizer=opt, relative=opt_kind == "groups")
    return model, opt, sched


def _train(model, opt, sched, start, stop, log):
    for t in range(start, stop):
        g = torch.Generator().manual_seed(1000 + t)  # the batch of update t
        x = torch.randn(16, 4, generator=g)
        y = torch.randn(16, 1, generator=g)
        log.append([[_f(v) for k, v in sorted(grp.items()) if k in ("lr", "momentum", "betas", "weight_decay")]
                    for grp in opt.param_groups])
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()


def _f(v):
    if isinstance(v, (tuple, list)):
        return [float(x) for x in v]
    return float(v)


def _weights(model):
    return [p.detach().double().flatten().tolist() for p in model.parameters()]


def resume_main(ckpt_dir, out_path):
    """The fresh process: rebuild every case, load its checkpoint, continue to N."""
    torch.set_num_threads(1)
    out = {}
    for name in CASES:
        model, opt, sched = _make(name)  # construction writes t=0 values: loading must override them
        ck = torch.load(os.path.join(ckpt_dir, f"{name}.pt"), weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        log = []
        _train(model, opt, sched, K, N, log)
        out[name] = {"log": log, "weights": _weights(model), "t": sched.t}
    with open(out_path, "w") as f:
        json.dump(out, f)


def test_cases_cover_the_standard_library():
    from clrdsl.contract import registry
    from clrdsl.language.check import prelude

    stdlib = {n for n, e in registry.functions.entries().items() if e.value.startswith("clrdsl_stdlib.")}
    names = stdlib | set(prelude())
    text = json.dumps([spec for _, spec in CASES.values()])
    missing = sorted(n for n in names if not re.search(rf"\b{n}\(", text))
    assert not missing, f"no resume case uses {missing}"


def test_resume_in_a_fresh_process_is_bit_for_bit(tmp_path):
    torch.set_num_threads(1)
    full = {}
    for name in CASES:
        model, opt, sched = _make(name)
        log = []
        _train(model, opt, sched, 0, K, log)
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
                   tmp_path / f"{name}.pt")
        _train(model, opt, sched, K, N, log)
        full[name] = {"log": log[K:], "weights": _weights(model), "t": sched.t}
        assert len({json.dumps(x) for x in log}) > 1, f"{name}: the schedule never moved"

    out = tmp_path / "resumed.json"
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys; sys.path.insert(0, {here!r}); import test_torch_resume as m; "
            f"m.resume_main({str(tmp_path)!r}, {str(out)!r})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed = json.loads(out.read_text())
    for name in CASES:
        assert resumed[name]["t"] == full[name]["t"] == N, name
        assert resumed[name]["log"] == full[name]["log"], f"{name}: hyperparameters differ after resume"
        assert resumed[name]["weights"] == full[name]["weights"], f"{name}: weights differ after resume"
