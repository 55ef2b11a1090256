"""How the ``ladle`` command prints: tables of registered objects, documents, diffs and progress.

Printing only: every function here takes plain results from :class:`~ladle.store.FeatureStore` and
renders them with rich (tables, colours, progress bars) or as plain YAML/JSON for scripts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ladle.definitions import (
    DataSource,
    Entity,
    ExternalSource,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
)

if TYPE_CHECKING:
    from ladle.ingest.materialize import MaterializeResult

__all__ = [
    "MaterializeProgress",
    "data_sources_table",
    "entities_table",
    "feature_services_table",
    "feature_views_table",
    "format_document",
    "format_duration",
    "format_timestamp",
    "make_console",
    "on_demand_feature_views_table",
    "print_diff",
    "print_materialized",
]

#: width used when stdout is not a terminal (so piped tables are not cut at 80 columns)
_PIPE_WIDTH = 200
_DIFF_STYLES = {"+": "green", "-": "red", "~": "yellow"}


def make_console(stderr: bool = False) -> Console:
    """A rich console without automatic highlighting; wide when writing to a pipe or a file."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=_PIPE_WIDTH)
    return console


def format_timestamp(when: datetime) -> str:
    """``2024-01-31 12:00:00+00:00`` (seconds precision)."""
    return when.isoformat(sep=" ", timespec="seconds")


def format_duration(span: timedelta | None) -> str:
    """``1d``, ``6h``, ``1h30m``, ``45s``; ``none`` for no (or a zero) ttl.

    >>> format_duration(timedelta(days=1, minutes=30))
    '1d30m'
    """
    if not span:
        return "none"
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or f"{span.total_seconds():g}s"


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, name in enumerate(columns):
        table.add_column(name, no_wrap=i == 0, overflow="fold")
    return table


def _row(table: Table, *cells: Any) -> None:
    # Text cells: names such as "schema[conv_rate]" must not be read as rich markup.
    table.add_row(*(Text(str(c)) for c in cells))


def entities_table(entities: Sequence[Entity]) -> Table:
    """NAME, JOIN KEYS, VALUE TYPE, DESCRIPTION."""
    table = _table("NAME", "JOIN KEYS", "VALUE TYPE", "DESCRIPTION")
    for e in entities:
        _row(table, e.name, ", ".join(e.join_keys), e.value_type.name, e.description)
    return table


def feature_views_table(views: Sequence[FeatureView]) -> Table:
    """NAME, ENTITIES, FEATURES, TTL, ONLINE, SOURCE, SCHEMA HASH (the contract's, first 12 digits)."""
    from ladle.definitions.contract import schema_hash

    table = _table("NAME", "ENTITIES", "FEATURES", "TTL", "ONLINE", "SOURCE", "SCHEMA HASH")
    for v in views:
        _row(
            table,
            v.name,
            ", ".join(v.entities) or "-",
            len(v.features),
            format_duration(v.ttl),
            v.online,
            v.source.name,
            schema_hash(v)[:12],
        )
    return table


def on_demand_feature_views_table(views: Sequence[OnDemandFeatureView]) -> Table:
    """NAME, SOURCES, FEATURES, MODE."""
    table = _table("NAME", "SOURCES", "FEATURES", "MODE")
    for v in views:
        sources = [s.name for s in v.source_views] + [r.name for r in v.request_sources]
        _row(table, v.name, ", ".join(sources), len(v.features), v.mode)
    return table


def feature_services_table(services: Sequence[FeatureService]) -> Table:
    """NAME, FEATURE VIEWS (with the chosen features), DESCRIPTION."""
    table = _table("NAME", "FEATURE VIEWS", "DESCRIPTION")
    for s in services:
        parts = []
        for p in s.projections:
            chosen = "all" if p.features is None else ", ".join(f.name for f in p.features)
            parts.append(f"{p.name_to_use} ({chosen})")
        _row(table, s.name, "; ".join(parts), s.description)
    return table


def _source_detail(source: DataSource) -> str:
    if isinstance(source, FileSource):
        return source.path
    if isinstance(source, PushSource):
        return (
            "online only (no batch source)"
            if source.batch_source is None
            else f"batch source: {source.batch_source.name}"
        )
    if isinstance(source, ExternalSource):
        return source.describe_location()
    if isinstance(source, RequestSource):
        return "fields: " + ", ".join(f.name for f in source.schema)
    return ""


def data_sources_table(sources: Sequence[DataSource]) -> Table:
    """NAME, TYPE, DETAIL (path, batch source or request fields), TIMESTAMP FIELD."""
    table = _table("NAME", "TYPE", "DETAIL", "TIMESTAMP FIELD")
    for s in sources:
        _row(table, s.name, s.source_type, _source_detail(s), s.timestamp_field or "-")
    return table


class _BlockDumper(yaml.SafeDumper):
    """YAML that keeps multi-line strings (an on-demand view's function) readable as ``|`` blocks."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_representer)


def format_document(document: Any, fmt: str) -> str:
    """``document`` (a ``to_dict()``) as ``yaml`` or ``json`` text."""
    if fmt == "json":
        return json.dumps(document, indent=2, default=str, ensure_ascii=False)
    text: str = yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text.rstrip("\n")


def print_diff(console: Console, lines: Sequence[str]) -> None:
    """Diff lines (``+ entity 'driver'``, ``~ ...``, ``- ...``), coloured by their first character."""
    for line in lines:
        console.print(Text(line, style=_DIFF_STYLES.get(line[:1], "")))


def print_materialized(console: Console, results: Sequence[MaterializeResult]) -> None:
    """One line per view: rows written and the interval."""
    if not results:
        console.print("No feature views to materialize (none has online=True).")
        return
    width = max(len(r.view) for r in results)
    for r in results:
        rows = "row" if r.rows == 1 else "rows"
        console.print(
            Text.assemble(
                (r.view.ljust(width), "bold"),
                f"  {r.rows:>9,} {rows:<4}  from {format_timestamp(r.start)} to {format_timestamp(r.end)}",
            )
        )


class _RowsPerSecond(ProgressColumn):
    """Rows written per second (over the bar's life)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.fields["written"] / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:>11,.0f} rows/s")


class MaterializeProgress:
    """A progress bar per feature view, fed by ``FeatureStore.materialize(..., progress=...)``, with rows/s;
    shown only on a terminal (a pipe, a log file or a test gets the summary lines alone).

    Use as a context manager and pass the object itself as the callback:
    ``progress(view_name, rows_written_so_far, total_rows)``.
    """

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", style="bold"),
            BarColumn(),
            TextColumn("{task.fields[written]:>9,} / {task.fields[rows]:,} rows"),
            _RowsPerSecond(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> MaterializeProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tasks:
            self._progress.stop()

    def __call__(self, view: str, written: int, total: int) -> None:
        # A view with nothing to write is shown complete rather than as an empty bar.
        bar_total, bar_done = (total, written) if total > 0 else (1, 1)
        task = self._tasks.get(view)
        if task is None:
            if not self._tasks:
                self._progress.start()  # on the first report, so a failure before it prints no empty bars
            self._tasks[view] = self._progress.add_task(
                view, total=bar_total, completed=bar_done, written=written, rows=total
            )
        else:
            self._progress.update(task, total=bar_total, completed=bar_done, written=written, rows=total)
