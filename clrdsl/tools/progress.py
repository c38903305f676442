"""Progress for long commands (the range test, the demo), on any terminal.

On a terminal, a tqdm bar (80 columns when the terminal does not report its size). When
the stream is not a terminal (a log file, CI, a pipe), a bar's carriage returns would
pile up on one line, so instead one line when the work starts and one when it ends,
with the count and the time it took.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO


class LineProgress:
    """The non-terminal form: a start line, then a final line with the count and time."""

    def __init__(self, total: int, desc: str, unit: str, stream: TextIO) -> None:
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.n = 0
        self.t0 = time.perf_counter()
        self.closed = False
        print(f"{desc}: {total} {unit}s ...", file=stream, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}s in {time.perf_counter() - self.t0:.1f} s",
                  file=self.stream, flush=True)


def progress_bar(total: int, desc: str, unit: str, *, stream: TextIO | None = None, leave: bool = True) -> Any:
    """A tqdm bar on a terminal, else a :class:`LineProgress`; both have ``update`` and
    ``close``. Without tqdm installed, the line form."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", lambda: False)()
    if isatty:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            cols = shutil.get_terminal_size((0, 0)).columns
            return tqdm(total=total, desc=desc, unit=unit, file=stream, leave=leave, ncols=None if cols else 80)
    return LineProgress(total, desc, unit, stream)
