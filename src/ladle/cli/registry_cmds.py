"""``ladle registry history|diff|rollback`` (docs/registry-history.md), ``ladle saved-datasets list|describe``
and ``ladle reproduce`` (docs/saved-datasets.md), and the schema-hash additions to ``plan`` and
``feature-views describe``; registered on the root group by :func:`register`.

Kept apart from :mod:`ladle.cli.commands` (Feast's commands) so each module stays within its size budget.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from ladle.cli import output as out

if TYPE_CHECKING:
    from ladle.cli.commands import CliState

__all__ = ["contract_lines", "describe_document", "plain_row", "plain_table", "register"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
#: the root group's ``CliState`` (this module cannot import commands.py, which imports it)
pass_state = click.pass_obj


def plain_table(*columns: str) -> Table:
    """A table in the style of ``ladle <group> list``."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, name in enumerate(columns):
        table.add_column(name, no_wrap=i == 0, overflow="fold")
    return table


def plain_row(table: Table, *cells: Any) -> None:
    """One row of text cells (names such as ``schema[x]`` must not be read as markup)."""
    table.add_row(*(Text(str(c)) for c in cells))


@click.group("registry", context_settings=_CONTEXT)
def registry_group() -> None:
    """Registry versions: history, diff between two, rollback to one."""


@registry_group.command("history")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON (for scripts and CI).")
@pass_state
def history_command(state: CliState, as_json: bool) -> None:
    """List the retained registry versions: time, user, host and what changed."""
    versions = state.store().registry_history()
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in versions], indent=2))
        return
    console = out.make_console()
    if not versions:
        console.print("No registry versions yet (run `ladle apply`).")
        return
    table = plain_table("VERSION", "TIME", "USER", "HOST", "CHANGES")
    for v in reversed(versions):
        plain_row(table, v.version, v.time, v.user, v.host, v.summary)
    console.print(table)


@registry_group.command("diff")
@click.argument("version_a", type=int)
@click.argument("version_b", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@pass_state
def diff_command(state: CliState, version_a: int, version_b: int, as_json: bool) -> None:
    """Show what changed from registry version A to version B, per object and field."""
    diff = state.store().diff_registry_versions(version_a, version_b)
    if as_json:
        click.echo(json.dumps(_diff_json(diff), indent=2, default=str))
        return
    console = out.make_console()
    if diff.is_empty:
        console.print(f"Versions {version_a} and {version_b} hold the same definitions.")
        return
    out.print_diff(console, diff.describe())
    for line in diff.contract_lines():
        console.print(line, markup=False)


@registry_group.command("rollback")
@click.argument("version", type=int)
@pass_state
def rollback_command(state: CliState, version: int) -> None:
    """Write a new registry version equal to VERSION (history is kept) and adjust the online tables."""
    store = state.store()
    diff = store.rollback_registry(version)
    console = out.make_console()
    if diff.is_empty:
        console.print(f"No changes: the registry already equals version {version} (now {store.registry.version}).")
        return
    out.print_diff(console, diff.describe())
    console.print(f"\nRolled back to version {version}: wrote registry version {store.registry.version}.")


@click.group("saved-datasets", context_settings=_CONTEXT)
def saved_datasets_group() -> None:
    """Saved training sets and their reproducibility metadata."""


@saved_datasets_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the datasets as JSON.")
@pass_state
def saved_list_command(state: CliState, as_json: bool) -> None:
    """List the saved datasets."""
    datasets = state.store().list_saved_datasets()
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in datasets], indent=2, default=str))
        return
    console = out.make_console()
    if not datasets:
        console.print("No saved datasets (create one with store.create_saved_dataset).")
        return
    table = plain_table("NAME", "ROWS", "REGISTRY VERSION", "CREATED", "STORAGE")
    for d in datasets:
        meta = d.metadata
        plain_row(table, d.name, meta.get("rows"), meta.get("registry_version"), d.created_timestamp, d.storage["path"])
    console.print(table)


@saved_datasets_group.command("describe")
@click.argument("name")
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@pass_state
def saved_describe_command(state: CliState, name: str, output: str) -> None:
    """Print a saved dataset's record: features, storage and reproducibility metadata."""
    click.echo(out.format_document(state.store().get_saved_dataset(name).to_dict(), output))


@click.command("reproduce", context_settings=_CONTEXT)
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def reproduce_command(state: CliState, name: str, as_json: bool) -> None:
    """Rebuild saved dataset NAME with the definitions of the registry version it recorded (the data as it is now),
    compare it with the stored rows and name what changed since; exit 1 when any row differs."""
    report = state.store().reproduce_saved_dataset(name)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        for line in report.lines():
            click.echo(line)
    if not report.identical:
        raise SystemExit(1)


@click.command("versions", context_settings=_CONTEXT)
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
@pass_state
def view_versions_command(state: CliState, name: str, as_json: bool) -> None:
    """List a feature view's versions (v0, v1, ...: one per contract change) and the active one."""
    versions = state.store().list_feature_view_versions(name)
    if as_json:
        click.echo(json.dumps(versions, indent=2))
        return
    table = plain_table("VERSION", "ACTIVE", "SCHEMA HASH", "REGISTRY VERSION", "CREATED")
    for v in versions:
        hash_ = (v.get("schema_hash") or "?")[:12]
        plain_row(table, f"v{v['version']}", "*" if v["active"] else "", hash_, v["registry_version"], v.get("time"))
    out.make_console().print(table)


def _diff_json(diff: Any) -> list[dict[str, Any]]:
    return [
        {
            **c.to_dict(),
            "fields": [{"path": f.path, "old": _plain(f.old), "new": _plain(f.new)} for f in c.fields],
        }
        for c in diff.changes
    ]


def _plain(value: Any) -> Any:
    from ladle.registry.diff import MISSING

    return None if value is MISSING else value


def contract_lines(diff: Any) -> None:
    """Print ``plan``'s contract section: changed feature views split into contract and cosmetic changes."""
    lines = diff.contract_lines()
    if lines:
        console = out.make_console()
        console.print("")
        for line in lines:
            console.print(line, markup=False, highlight=False)


def describe_document(obj: Any) -> dict[str, Any]:
    """``obj.to_dict()``, with a feature view's ``schema_hash`` (its contract) added."""
    from ladle.definitions import FeatureView
    from ladle.definitions.contract import schema_hash

    document: dict[str, Any] = obj.to_dict()
    if isinstance(obj, FeatureView):
        document["schema_hash"] = schema_hash(obj)
    return document


def register(cli: click.Group) -> None:
    """Add this module's commands to the root group."""
    cli.add_command(registry_group)
    cli.add_command(saved_datasets_group)
    cli.add_command(reproduce_command)
    views = cli.commands.get("feature-views")
    if isinstance(views, click.Group):
        views.add_command(view_versions_command)
        views.add_command(view_versions_command, "list-versions")  # the ADR's spelling
