"""The operating-loop commands (docs/operating.md): ``publish``, ``versions``, ``rollback`` and ``check``.

Registered on the ``ladle`` group by :func:`register` (called from :mod:`ladle.cli.commands`); like the
other commands, each calls one :class:`~ladle.store.FeatureStore` method and prints the result.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from ladle.cli import output as out

if TYPE_CHECKING:
    from ladle.check import CheckReport
    from ladle.cli.commands import CliState
    from ladle.versions import VersionInfo

__all__ = ["register"]

_ROOT_HELP = "The feature-set root (a folder or s3://bucket/prefix); default: feature_sets.root of feature_store.yaml."


def _state() -> CliState:
    from ladle.cli.commands import CliState

    return click.get_current_context().find_object(CliState)  # type: ignore[return-value]


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


@click.command("publish")
@click.argument("view")
@click.argument("data", type=click.Path(exists=True))
@click.option("--version", "version", default=None, help="The version's name (default: a UTC timestamp).")
@click.option("--root", default=None, help=_ROOT_HELP)
def publish_command(view: str, data: str, version: str | None, root: str | None) -> None:
    """Publish DATA (a parquet/csv file or folder) as a new version of VIEW and move `latest` to it.

    The data is checked against the view's contract first; refused data leaves `latest` where it was.
    """
    result = _state().store().publish(view, data, version=version, root=root)
    meta = result.metadata
    click.echo(
        f"Published {view} version {result.version}: {meta['row_count']} rows, events {meta['event_time_min']} .. "
        f"{meta['event_time_max']}, schema {meta['schema_hash'][:12]}, at {result.path}"
    )
    click.echo(f"latest: {result.previous or '(none)'} -> {result.version}")


def _versions_table(infos: list[VersionInfo]) -> Table:
    table = _table("", "version", "generated at", "rows", "event time range", "schema hash", "fingerprint")
    for info in infos:
        m = info.metadata
        cells = [
            "latest" if info.is_latest else "",
            info.version,
            m.get("generated_at", ""),
            m.get("row_count", ""),
            f"{m.get('event_time_min')} .. {m.get('event_time_max')}",
            str(m.get("schema_hash", ""))[:12],
            str(m.get("fingerprint", ""))[:19],
        ]
        table.add_row(*(Text(str(c)) for c in cells))
    return table


@click.command("versions")
@click.argument("view")
@click.option("--root", default=None, help=_ROOT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (each version's metadata, `latest` marked).")
def versions_command(view: str, root: str | None, as_json: bool) -> None:
    """List the published versions of VIEW, oldest first; the one `latest` points at is marked."""
    infos = _state().store().list_versions(view, root=root)
    if as_json:
        doc = [{"version": i.version, "latest": i.is_latest, "metadata": i.metadata} for i in infos]
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    if not infos:
        click.echo(f"No published versions of {view}.")
        return
    out.make_console().print(_versions_table(infos))


@click.command("rollback")
@click.argument("view")
@click.argument("version")
@click.option("--root", default=None, help=_ROOT_HELP)
@click.option("--offline-only", is_flag=True, help="Move `latest` only; leave the online store as it is.")
def rollback_command(view: str, version: str, root: str | None, offline_only: bool) -> None:
    """Move `latest` of VIEW back to VERSION and make the online store serve that version's values.

    Every key of the current and the target version is replaced online (keys absent from VERSION are
    removed); if the online write fails, `latest` is restored.
    """
    result = _state().store().rollback(view, version, root=root, online=not offline_only)
    click.echo(f"latest: {result.previous or '(none)'} -> {result.version}")
    if not offline_only:
        click.echo(f"online: {result.keys_replaced} keys replaced, {result.rows_written} rows written")


def _check_table(report: CheckReport) -> Table:
    table = _table("check", "object", "result", "detail", "fix")
    for item in report.items:
        result = Text("ok", style="green") if item.ok else Text("FAIL", style="bold red")
        table.add_row(Text(item.check), Text(item.target), result, Text(item.detail), Text(item.fix))
    return table


@click.command("check")
@click.option("--sample", default=10, show_default=True, type=click.IntRange(min=0), help="Keys sampled per view.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for CI).")
def check_command(sample: int, as_json: bool) -> None:
    """Run the operating checklist: registry, sources, freshness, online reads, skew. Exits 1 on any failure."""
    report = _state().store().check(sample=sample)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        console = out.make_console()
        console.print(_check_table(report))
        console.print(
            "All checks passed." if report.ok else f"{len(report.failures)} of {len(report.items)} checks failed."
        )
    if not report.ok:
        sys.exit(1)


def register(group: click.Group, add_options: Any) -> None:
    """Add the commands to ``group``; ``add_options`` gives each the root group's options (``--chdir`` ...)."""
    for command in (publish_command, versions_command, rollback_command, check_command):
        add_options(command)
        group.add_command(command)
