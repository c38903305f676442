"""Fuzzing the front end: mangled inputs fail only with clrdsl errors, quickly.

Thousands of deterministic random mutations of valid expressions (characters and
tokens inserted, deleted, replaced, swapped; truncations; duplicated slices; splices
of two inputs). ``clrdsl.parse`` and ``clrdsl.check`` must either succeed or raise a
:class:`ClrdslError` with a span inside the text — never another exception — and
each input must be handled well within a second. Inputs that still check are also
compiled and evaluated, which must not raise either.
"""

from __future__ import annotations

import random
import time
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clrdsl
from clrdsl import ClrdslError

from strategies import BINDINGS, SEED_EXPRS

SEED = 20240611
N_MUTANTS = 4000
# A hang detector, not a speed claim: these machines are shared and a wall-clock bound
# would fail under load. The speed of the front end is measured against lark itself in
# benchmarks/bench_frontend.py; the checker's work is bounded by its budget (E309).
PER_INPUT_S = 30.0

TOKENS = (
    "(", ")", ",", "=", ">>", "*", "**", "-", "+", "/", ";", ":", "|", "#", "\n", " ",
    "let", "def", "if", "then", "else", "true", "false", "x", "pi", "e", "on=cycle", "on=iterations",
    "1e", "1e-", "1e999", "4ep", "4eps", "30%", "2_000", "0", "-1", ".5", "1.", "nan", "inf",
    "total_steps", "steps_per_epoch", "take(", "scale(", "exp(gamma=0.5)", "triangular(", "step=",
    "over=", "gamma=", "[", "]", "{", "'", '"', ".", "@", "\\", "\t", "\x00", "é", "∞", "__import__",
    "min(", "max(", "sin(", "log(", "def f(a) = f(a)\n", "let a = a\n",
)


def _mutate(rng: random.Random, text: str, other: str) -> str:
    op = rng.randrange(9)
    n = len(text)
    i = rng.randrange(n + 1)
    j = min(n, i + rng.randrange(1, 8))
    if op == 0:  # delete a character
        return text[:i] + text[i + 1:]
    if op == 1:  # insert a character (printable, or anything)
        ch = chr(rng.randrange(32, 127)) if rng.random() < 0.8 else chr(rng.randrange(0, 0x2FFF))
        return text[:i] + ch + text[i:]
    if op == 2:  # replace a character
        return text[:i] + chr(rng.randrange(32, 127)) + text[i + 1:]
    if op == 3:  # insert a token
        return text[:i] + rng.choice(TOKENS) + text[i:]
    if op == 4:  # replace a slice by a token
        return text[:i] + rng.choice(TOKENS) + text[j:]
    if op == 5:  # truncate
        return text[:i]
    if op == 6:  # duplicate a slice
        return text[:j] + text[i:j] + text[j:]
    if op == 7:  # swap two slices
        k = rng.randrange(n + 1)
        a, b = sorted((i, k))
        return text[:a] + text[b:b + (j - i)] + text[a + (j - i):b] + text[a:a + (j - i)] + text[b + (j - i):]
    # splice with another input
    k = rng.randrange(len(other) + 1)
    return text[:i] + other[k:]


def mutants(n: int, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = rng.choice(SEED_EXPRS)
        for _ in range(rng.choice((1, 1, 1, 2, 3, 6))):
            text = _mutate(rng, text, rng.choice(SEED_EXPRS))
        out.append(text)
    return out


def _run_one(text: str, bindings: dict) -> str:
    """Parse, check, and (if it checks) compile and evaluate; returns the outcome."""
    try:
        clrdsl.parse(text)
    except ClrdslError as err:
        _assert_good_error(err, text)
    try:
        checked = clrdsl.check(text, **bindings)
    except ClrdslError as err:
        _assert_good_error(err, text)
        return "error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inf/nan from a formula such as 1/x is not a crash
        fn = clrdsl.compile(checked)
        fn(0), fn(7), fn([0, 1, 1000])
    return "ok"


def _assert_good_error(err: ClrdslError, text: str) -> None:
    assert err.diagnostics and err.code.startswith("E")
    for d in err.diagnostics:
        if d.span is not None:
            assert 0 <= d.span.start <= d.span.end <= len(text), (d, text)
    err.render()  # rendering never fails
    err.to_json_str()


@pytest.mark.parametrize("chunk", range(5))
def test_mutated_inputs_fail_only_with_clrdsl_errors(chunk):
    texts = mutants(N_MUTANTS)[chunk::5]
    outcomes = {"ok": 0, "error": 0}
    slowest = (0.0, "")
    for i, text in enumerate(texts):
        bindings = BINDINGS if i % 2 else {}
        t0 = time.perf_counter()
        try:
            outcomes[_run_one(text, bindings)] += 1
        except ClrdslError:
            raise
        except Exception as exc:  # pragma: no cover - the failure we are looking for
            pytest.fail(f"{type(exc).__name__}: {exc}\ninput: {text!r}")
        slowest = max(slowest, (time.perf_counter() - t0, text))
    assert slowest[0] < PER_INPUT_S, f"{slowest[0]:.2f}s for {slowest[1]!r}"
    # the mutations are neither all fatal nor all harmless
    assert outcomes["error"] > len(texts) // 4
    assert outcomes["ok"] > 10


def test_mutants_are_deterministic():
    assert mutants(50) == mutants(50)
    assert len(set(mutants(500))) > 450


@pytest.mark.parametrize("text", [
    "\x00", "\ufeff1", "1\r\n+ 2", "é", "∞", "(" * 199 + ")" * 199, "#" * 1000, "1" * 5000,
    "let " * 100, "def f(" * 50, ")" * 300, "=" * 300, "1e" + "9" * 400, "0." + "0" * 3000 + "1",
    "f(" + "a=1," * 500 + ")", "x" * 60000,
])
def test_odd_inputs(text):
    t0 = time.perf_counter()
    try:
        _run_one(text, {})
    except ClrdslError:
        pass
    assert time.perf_counter() - t0 < PER_INPUT_S


def test_non_text_input_is_a_clrdsl_error():
    for bad in (None, 3, b"triangular(0.1, 1, step=2)", ["x"]):
        with pytest.raises(ClrdslError):
            clrdsl.parse(bad)
        with pytest.raises(ClrdslError):
            clrdsl.check(bad)


_ALPHABET = "()=,;:|#*/+-<>.%'\"[] \n\t0123456789eEitp_xabcdfglnorsy"


@settings(max_examples=400, deadline=None)
@given(st.text(_ALPHABET, max_size=80) | st.lists(st.sampled_from(TOKENS), max_size=20).map("".join))
def test_arbitrary_text_fails_only_with_clrdsl_errors(text):
    try:
        _run_one(text, BINDINGS)
    except ClrdslError:
        pass
