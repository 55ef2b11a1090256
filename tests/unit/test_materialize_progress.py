"""The `ladle materialize` progress bar: rows written, total and rows/s on a terminal; nothing on a pipe."""

from __future__ import annotations

import io

from rich.console import Console

from ladle.cli.output import MaterializeProgress


def _run(terminal: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, width=120, color_system=None)
    with MaterializeProgress(console) as progress:
        progress("driver_stats", 0, 1000)
        progress("driver_stats", 500, 1000)
        progress("driver_stats", 1000, 1000)
    return buffer.getvalue()


def test_a_terminal_shows_rows_total_and_rate() -> None:
    out = _run(terminal=True)
    assert "driver_stats" in out
    assert "1,000 / 1,000 rows" in out
    assert "rows/s" in out


def test_a_pipe_gets_no_bar() -> None:
    assert _run(terminal=False) == ""
