"""No traceback from the CLI, ever: every failure is a diagnostic with exit 1 (a bad
schedule or data) or 2 (usage, missing or unreadable files, unwritable output)."""

from __future__ import annotations

import os
import random
import sys

import pytest
from click.testing import CliRunner

from clrdsl.tools.cli import MAX_EVAL_VALUES, MAX_FILE_BYTES, main


def run(*args, input=None):
    r = CliRunner().invoke(main, [str(a) for a in args], input=input)
    # click's runner catches what escapes; an escaped exception is a traceback for a user
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r


def test_missing_unreadable_and_binary_files_are_usage_errors(tmp_path):
    r = run("fmt", "-f", tmp_path / "missing.clr")
    assert r.exit_code == 2 and "cannot read" in r.stderr and "No such file" in r.stderr
    binary = tmp_path / "blob.clr"
    binary.write_bytes(bytes(range(256)) * 4)
    for cmd in ("fmt", "check", "explain", "lint"):
        r = run(cmd, "-f", binary)
        assert r.exit_code == 2 and "is not UTF-8 text" in r.stderr, cmd
    r = run("check", "-f", tmp_path / "nothing.yaml")
    assert r.exit_code == 2


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_file_is_refused_after_a_bounded_read():
    r = run("check", "-f", "/dev/zero")
    assert r.exit_code == 2 and f"larger than {MAX_FILE_BYTES // 2**20} MiB" in r.stderr


def test_oversized_file_and_stdin(tmp_path):
    big = tmp_path / "big.clr"
    big.write_text("1" * (MAX_FILE_BYTES + 1))
    assert run("fmt", "-f", big).exit_code == 2
    r = run("check", "-", input="constant(" + "1" * (MAX_FILE_BYTES + 10) + ")")
    assert r.exit_code == 2 and "larger than" in r.stderr


def test_unwritable_output_is_a_usage_error(tmp_path):
    target = tmp_path / "missing" / "dir" / "x.py"
    r = run("compile", "constant(0.1)", "-o", target)
    assert r.exit_code == 2 and "cannot write" in r.stderr and not target.exists()


def test_eval_steps_past_int64_and_huge_ranges_are_refused_before_any_work():
    r = run("eval", "constant(0.1)", "--steps", f"{2**63}:{2**63 + 2}")
    assert r.exit_code == 2 and "2**63" in r.stderr
    r = run("eval", "constant(0.1)", "--steps", "0:10000000000")
    assert r.exit_code == 2 and f"{MAX_EVAL_VALUES:,}" in r.stderr and "stride" in r.stderr
    r = run("eval", "linear(0, 1, over=1e12)")  # the default range: the whole schedule
    assert r.exit_code == 2 and "1,000,000,000,001 steps" in r.stderr
    r = run("eval", "constant(0.1)", "--steps", "0:10000000000:10000")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1 + 1_000_000
    r = run("eval", "constant(0.1)", "--total-steps", str(2**63))
    assert r.exit_code == 2


def test_diagnostics_escape_control_and_bidi_characters(tmp_path):
    evil = "triangular(0.001, 0.006, step=\x1b[2J\x1b]0;owned\x07)"
    r = run("check", evil)
    assert r.exit_code == 1
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr and "\\x1b" in r.stderr
    r = run("check", "constant(0.1) + \u202etxet\u202c")
    assert r.exit_code == 1 and "\u202e" not in r.stderr and "\\u202e" in r.stderr
    f = tmp_path / "sched\x1b[31m.clr"
    f.write_text("linear(0, 1, over=\u2066)")
    r = run("check", "-f", f)
    assert r.exit_code == 1 and "\x1b" not in r.stderr and "\u2066" not in r.stderr


def test_caret_stays_under_the_span_after_escaping():
    r = run("check", "\x1b\x1b + nosuch(1)")
    lines = r.stderr.splitlines()
    src = next(i for i, line in enumerate(lines) if "nosuch" in line and "|" in line)
    # the first error is the escape character; whichever it is, its caret is under it
    caret_line = lines[src + 1]
    col = caret_line.index("^")
    assert lines[src][col:col + 4] == "\\x1b"


def test_an_unexpected_exception_is_one_line_not_a_traceback(monkeypatch):
    import clrdsl.api

    def boom(*a, **k):
        raise RuntimeError("something deep broke")

    monkeypatch.setattr(clrdsl.api, "check", boom)
    r = run("check", "constant(0.1)")
    assert r.exit_code == 1 and "internal error: RuntimeError: something deep broke" in r.stderr


COMMANDS = [("check", ".clr"), ("fmt", ".clr"), ("explain", ".txt"), ("lint", ".clr"), ("eval", ".clr"),
            ("check", ".yaml"), ("check", ".json"), ("check", ".toml"), ("compile", ".clr")]


def _fuzz_bytes(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:  # pure noise
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
    if kind == 1:  # printable soup of the language's characters
        return "".join(rng.choice("()+-*/>,=.0123456789 eaxtriangulr_%\n\t#:") for _ in
                       range(rng.randrange(0, 200))).encode()
    base = rng.choice([b"triangular(0.001, 0.006, step=2000)", b"onecycle(0.1, total=1000)",
                       b"lr: 'warmup_cosine(0.1, warmup=5, decay=95)'", b'{"lr": "constant(0.1)"}'])
    data = bytearray(base)
    for _ in range(rng.randrange(1, 6)):  # mutate a valid input
        i = rng.randrange(len(data) + 1)
        op = rng.randrange(3)
        if op == 0 and data:
            del data[min(i, len(data) - 1)]
        elif op == 1:
            data[i:i] = bytes([rng.randrange(256)])
        else:
            data[i:i] = rng.choice([b"\x1b[", b"\xff", "\u202e".encode(), b"((", b"**",
                                    b"1e999", b"/0", b"\x00"])
    return bytes(data)


def test_cli_fuzz_random_files_exit_1_or_2_never_a_traceback(tmp_path):
    rng = random.Random(20261130)  # derandomized
    codes = {}
    for n in range(240):
        cmd, ext = COMMANDS[n % len(COMMANDS)]
        path = tmp_path / f"f{n}{ext}"
        path.write_bytes(_fuzz_bytes(rng))
        args = [cmd, "-f", str(path)]
        if cmd == "eval":
            args += ["--steps", "0:50"]
        r = run(*args)
        assert r.exit_code in (0, 1, 2), (args, path.read_bytes(), r.output)
        if r.exit_code:
            assert r.stderr.strip(), (args, path.read_bytes())
            assert "\x1b" not in r.stderr, (args, path.read_bytes())
        codes[r.exit_code] = codes.get(r.exit_code, 0) + 1
    assert codes.get(1) and codes.get(2)  # both kinds of failure were exercised
    assert sys.getrecursionlimit() < 100_000
