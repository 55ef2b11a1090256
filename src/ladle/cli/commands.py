"""The ``ladle`` command: Feast's CLI (same commands, arguments and options) over ``FeatureStore``.

A thin facade: each command parses its arguments, calls one :class:`~ladle.store.FeatureStore` method
and prints the result (printing lives in :mod:`ladle.cli.output`). Errors ladle raises on purpose
(:class:`~ladle.errors.LadleError`) print as one ``Error: ...`` line on stderr and exit 1 (``--verbose``
adds the traceback); usage errors exit 2; success exits 0.

>>> # $ ladle init feature_repo && cd feature_repo && ladle apply
>>> # $ ladle materialize-incremental now
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ladle import __version__
from ladle.cli import operate
from ladle.cli import output as out
from ladle.cli.access_options import access_options
from ladle.cli.ui_cmd import ui_command
from ladle.errors import LadleError, LadleWarning

if TYPE_CHECKING:
    from rich.table import Table

    from ladle.store import FeatureStore

__all__ = ["TIMESTAMP", "TimestampParam", "cli", "main"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
_FORMATS = click.Choice(["yaml", "json"])


# --- shared state and errors ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CliState:
    """The global options: which repo, which feature_store.yaml, whether to show tracebacks."""

    repo_path: Path
    fs_yaml_file: Path | None
    verbose: bool

    def store(self) -> FeatureStore:
        """The repo's FeatureStore (imported here so ``ladle version``/``--help`` stay fast)."""
        from ladle.store import FeatureStore

        return FeatureStore(repo_path=self.repo_path, fs_yaml_file=self.fs_yaml_file)


def _fail(message: str, exc: BaseException, verbose: bool) -> NoReturn:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"{click.style('Error:', fg='red', bold=True)} {' '.join(message.split())}", err=True)
    sys.exit(1)


class _LadleGroup(click.Group):
    """The root group: turns ladle's errors into one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LadleWarning)
            try:
                return self._invoke(ctx, caught)
            finally:
                _print_warnings(caught)

    def _invoke(self, ctx: click.Context, caught: list[warnings.WarningMessage]) -> Any:
        try:
            return super().invoke(ctx)
        except LadleError as exc:
            _print_warnings(caught)
            _fail(str(exc), exc, _verbose(ctx))
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: say so in one line, keep the traceback for --verbose
            _fail(
                f"unexpected {type(exc).__name__}: {exc} (this is a bug in ladle; run with --verbose for the "
                "traceback and report it)",
                exc,
                _verbose(ctx),
            )


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """ladle's warnings as one ``Warning:`` line each on stderr; any other warning as Python shows it."""
    while caught:
        w = caught.pop(0)
        if issubclass(w.category, LadleWarning):
            click.echo(
                f"{click.style('Warning:', fg='yellow', bold=True)} {' '.join(str(w.message).split())}", err=True
            )
        else:
            # formatted by hand: inside catch_warnings(record=True), showwarning would record it again
            sys.stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))


def _verbose(ctx: click.Context) -> bool:
    return bool(isinstance(ctx.obj, CliState) and ctx.obj.verbose)


pass_state = click.make_pass_decorator(CliState)


# --- timestamps ----------------------------------------------------------------------------------------
if TYPE_CHECKING:
    _ParamType = click.ParamType[datetime]
else:  # click < 8.2 has no generic ParamType
    _ParamType = click.ParamType


class TimestampParam(_ParamType):
    """An ISO 8601 timestamp (``2024-01-31T12:00:00``, ``2024-01-31``, ``...+02:00``, ``...Z``) or ``now``.

    Naive timestamps are UTC; the value is returned as an aware UTC datetime.
    """

    name = "timestamp"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        """Parse ``value``; a bad value is a usage error (exit 2)."""
        if isinstance(value, datetime):
            parsed = value
        elif str(value).strip().lower() == "now":
            return datetime.now(UTC)
        else:
            try:
                parsed = datetime.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(
                    f"{value!r} is not an ISO 8601 timestamp (e.g. 2024-01-31T12:00:00, 2024-01-31 or 'now')",
                    param,
                    ctx,
                )
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


TIMESTAMP = TimestampParam()


def _pick(positional: datetime | None, option: datetime | None, name: str) -> datetime:
    """One timestamp given either as the positional argument or as its ``--option``."""
    if positional is not None and option is not None and positional != option:
        raise click.UsageError(f"{name} is given twice (as an argument and as --{name.lower().replace('_', '-')})")
    value = positional if positional is not None else option
    if value is None:
        raise click.UsageError(f"Missing argument '{name}' (an ISO 8601 timestamp or 'now').")
    return value


def _view_names(views: Sequence[str]) -> list[str] | None:
    names = [n.strip() for v in views for n in v.split(",") if n.strip()]
    return names or None


def _tags(tags: Sequence[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.partition(":")
        if not sep or not key:
            raise click.BadParameter(f"{tag!r} is not KEY:VALUE", param_hint="--tags")
        out[key.strip()] = value.strip()
    return out or None


# --- the root group ----------------------------------------------------------------------------------
@click.group(cls=_LadleGroup, context_settings=_CONTEXT)
@click.option(
    "--chdir",
    "-c",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The feature repo folder (default: the current folder).",
)
@click.option(
    "--feature-store-yaml",
    "-f",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The configuration file (default: feature_store.yaml in the repo folder).",
)
@click.option("--verbose", "-v", is_flag=True, help="Show the traceback of errors.")
@click.version_option(__version__, "--version", prog_name="ladle", message="%(prog)s version %(version)s")
@click.pass_context
def cli(ctx: click.Context, chdir: Path | None, feature_store_yaml: Path | None, verbose: bool) -> None:
    """ladle: a fast, correct, Feast-compatible feature store."""
    repo = (chdir or Path.cwd()).absolute()
    yaml_file = feature_store_yaml.absolute() if feature_store_yaml is not None else None
    ctx.obj = CliState(repo, yaml_file, verbose)


@cli.command("version")
def version_command() -> None:
    """Print the installed ladle version."""
    click.echo(f"ladle version {__version__}")


@cli.command("init")
@click.argument("project_directory", required=False, default="my_project")
@click.option("--minimal", "-m", is_flag=True, help="Only feature_store.yaml and an empty data/ folder.")
@click.option(
    "--template",
    "-t",
    type=click.Choice(["local"]),
    default="local",
    show_default=True,
    help="The template (Feast's option; ladle has the local demo).",
)
@pass_state
def init_command(state: CliState, project_directory: str, minimal: bool, template: str) -> None:
    """Create PROJECT_DIRECTORY (default: my_project) with a demo feature repo in PROJECT_DIRECTORY/feature_repo.

    The name is the project's: letters, digits and underscores, not starting with an underscore.
    """
    from ladle.repo.init_template import init_repo

    result = init_repo(state.repo_path / project_directory, minimal=minimal)
    click.echo(
        f"Creating a new ladle repository in {click.style(str(result.root), bold=True)} (project '{result.project}')."
    )
    for name in result.files:
        click.echo(f"  {name}")
    click.echo(f"\nNext: cd {os.path.relpath(result.path)} && ladle apply")


# --- registry commands ---------------------------------------------------------------------------------
@cli.command("plan")
@click.option(
    "--skip-source-validation",
    is_flag=True,
    help="Do not read the sources of fully declared views (timestamp field, features, join-key types).",
)
@pass_state
def plan_command(state: CliState, skip_source_validation: bool) -> None:
    """Show what `ladle apply` would change in the registry (writes nothing)."""
    diff = state.store().plan_repo(skip_source_validation)
    console = out.make_console()
    if diff.is_empty:
        console.print("No changes.")
        return
    out.print_diff(console, diff.describe())
    _more.contract_lines(diff)
    console.print("\nRun `ladle apply` to apply these changes.")


@cli.command("apply")
@click.option(
    "--skip-source-validation",
    is_flag=True,
    help="Do not read the sources of fully declared views (timestamp field, features, join-key types).",
)
@pass_state
def apply_command(state: CliState, skip_source_validation: bool) -> None:
    """Register the repo's definitions and create or drop online tables, atomically."""
    store = state.store()
    diff = store.apply_repo(skip_source_validation)
    console = out.make_console()
    if diff.is_empty:
        console.print(f"No changes: the registry already matches the repo (version {store.registry.version}).")
        return
    out.print_diff(console, diff.describe())
    console.print(f"\nApplied registry version {store.registry.version} of project '{store.project}'.")


@cli.command("validate")
@pass_state
def validate_command(state: CliState) -> None:
    """Check what `ladle apply` checks, writing nothing: definitions, sources, registry, online store."""
    contents = state.store().validate_repo()
    counts = [
        (len(contents.entities), "entity", "entities"),
        (len(contents.data_sources), "data source", "data sources"),
        (len(contents.feature_views), "feature view", "feature views"),
        (len(contents.on_demand_feature_views), "on-demand feature view", "on-demand feature views"),
        (len(contents.feature_services), "feature service", "feature services"),
    ]
    found = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts)
    click.echo(f"The repo is valid: {found}.")


@cli.command("configuration")
@pass_state
def configuration_command(state: CliState) -> None:
    """Print the resolved configuration (feature_store.yaml with defaults) as YAML, secrets masked."""
    from ladle.config import load_repo_config, masked

    click.echo(out.format_document(masked(load_repo_config(state.repo_path, state.fs_yaml_file)), "yaml"))


@cli.command("teardown")
@pass_state
def teardown_command(state: CliState) -> None:
    """Remove the online tables and the registry of the project."""
    store = state.store()
    store.teardown()
    click.echo(f"Removed the online tables and the registry of project '{store.project}'.")


@cli.command("registry-dump")
@pass_state
def registry_dump_command(state: CliState) -> None:
    """Print the whole registry as JSON."""
    click.echo(json.dumps(state.store().registry.to_dict(), indent=2, default=str, ensure_ascii=False))


# --- materialization -----------------------------------------------------------------------------------
_VIEWS_OPTION = click.option(
    "--views",
    "-v",
    multiple=True,
    metavar="NAME",
    help="Feature view to materialize (repeat for several; default: every online view).",
)


@cli.command("materialize")
@click.argument("start_ts", required=False, type=TIMESTAMP)
@click.argument("end_ts", required=False, type=TIMESTAMP)
@click.option("--start-ts", "start_option", type=TIMESTAMP, help="Same as START_TS.")
@click.option("--end-ts", "end_option", type=TIMESTAMP, help="Same as END_TS.")
@_VIEWS_OPTION
@click.option(
    "--disable-event-timestamp",
    is_flag=True,
    help="Write the values with the current time as their event timestamp; START_TS and END_TS "
    "then default to the epoch and now (all the data).",
)
@pass_state
def materialize_command(
    state: CliState,
    start_ts: datetime | None,
    end_ts: datetime | None,
    start_option: datetime | None,
    end_option: datetime | None,
    views: tuple[str, ...],
    disable_event_timestamp: bool,
) -> None:
    """Load the latest values with START_TS <= timestamp <= END_TS into the online store.

    Timestamps are ISO 8601 (naive means UTC) or 'now'.
    """
    if disable_event_timestamp:
        from ladle.ingest.materialize import EPOCH

        start_ts, end_ts = start_ts or start_option or EPOCH, end_ts or end_option or datetime.now(UTC)
    start, end = _pick(start_ts, start_option, "START_TS"), _pick(end_ts, end_option, "END_TS")
    _run_materialize(
        state,
        f"from {_ts(start)} to {_ts(end)}" + (" (written as of now)" if disable_event_timestamp else ""),
        lambda store, progress: store.materialize(
            start,
            end,
            feature_views=_view_names(views),
            progress=progress,
            disable_event_timestamp=disable_event_timestamp,
        ),
    )


@cli.command("materialize-incremental")
@click.argument("end_ts", required=False, type=TIMESTAMP)
@click.option("--end-ts", "end_option", type=TIMESTAMP, help="Same as END_TS.")
@_VIEWS_OPTION
@pass_state
def materialize_incremental_command(
    state: CliState, end_ts: datetime | None, end_option: datetime | None, views: tuple[str, ...]
) -> None:
    """Load what is new since each view's last materialization, up to END_TS, into the online store.

    END_TS is ISO 8601 (naive means UTC) or 'now'.
    """
    end = _pick(end_ts, end_option, "END_TS")
    _run_materialize(
        state,
        f"up to {_ts(end)}",
        lambda store, progress: store.materialize_incremental(end, feature_views=_view_names(views), progress=progress),
    )


def _ts(when: datetime) -> str:
    return out.format_timestamp(when)


def _run_materialize(state: CliState, interval: str, run: Callable[[FeatureStore, Any], Sequence[Any]]) -> None:
    store = state.store()
    console = out.make_console()
    online = store.config.online_store
    if online is not None:  # without one, materializing fails with the error that says so
        console.print(f"Materializing feature views {interval} into the {online.type} online store.")
    with out.MaterializeProgress(console) as progress:
        results = run(store, progress)
    out.print_materialized(console, results)


# --- object groups: entities, feature-views, ... ---------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    """One `ladle <group> list|describe` family."""

    command: str
    plural: str
    list: Callable[[FeatureStore, dict[str, str] | None], Sequence[Any]]
    get: Callable[[FeatureStore, str], Any]
    table: Callable[[Sequence[Any]], Table]


def _kinds() -> list[_Kind]:
    return [
        _Kind(
            "entities",
            "entities",
            lambda s, t: s.list_entities(tags=t),
            lambda s, n: s.get_entity(n),
            out.entities_table,
        ),
        _Kind(
            "feature-views",
            "feature views",
            lambda s, t: s.list_feature_views(tags=t),
            lambda s, n: s.get_feature_view(n),
            out.feature_views_table,
        ),
        _Kind(
            "on-demand-feature-views",
            "on-demand feature views",
            lambda s, t: s.list_on_demand_feature_views(tags=t),
            lambda s, n: s.get_on_demand_feature_view(n),
            out.on_demand_feature_views_table,
        ),
        _Kind(
            "feature-services",
            "feature services",
            lambda s, t: s.list_feature_services(tags=t),
            lambda s, n: s.get_feature_service(n),
            out.feature_services_table,
        ),
        _Kind(
            "data-sources",
            "data sources",
            lambda s, t: s.list_data_sources(tags=t),
            lambda s, n: s.get_data_source(n),
            out.data_sources_table,
        ),
    ]


def _object_group(kind: _Kind) -> click.Group:
    group = click.Group(kind.command, help=f"Registered {kind.plural}.", context_settings=_CONTEXT)

    @group.command("list")
    @click.option("--tags", multiple=True, metavar="KEY:VALUE", help="Only objects with this tag (repeatable).")
    @pass_state
    def list_command(state: CliState, tags: tuple[str, ...]) -> None:
        objects = sorted(kind.list(state.store(), _tags(tags)), key=lambda o: o.name)
        console = out.make_console()
        if not objects:
            console.print(f"No {kind.plural} are registered (run `ladle apply`).")
            return
        console.print(kind.table(objects))

    list_command.help = f"List the registered {kind.plural}."

    @group.command("describe")
    @click.argument("name")
    @click.option("--output", "-o", type=_FORMATS, default="yaml", show_default=True, help="Output format.")
    @pass_state
    def describe_command(state: CliState, name: str, output: str) -> None:
        click.echo(out.format_document(_more.describe_document(kind.get(state.store(), name)), output))

    describe_command.help = f"Print the definition of one of the {kind.plural}."
    return group


for _kind in _kinds():
    cli.add_command(_object_group(_kind))


# --- the feature server --------------------------------------------------------------------------------
# Feast's `serve -h HOST`: for this command only, -h is the host and help is --help.
@cli.command("serve", context_settings={"help_option_names": ["--help"], "max_content_width": 110})
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", "-p", default=6566, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes (each with its own connection pools).",
)
@click.option("--no-access-log", is_flag=True, help="Do not log every request.")
@access_options(
    api_key_help="Require this key (comma-separated for several) in 'Authorization: Bearer' or 'X-API-Key'.",
    key_file_help="Keys, one '[read|write|admin] key [project,...]' a line (a key on the command line shows in ps).",
)
@click.option(
    "--keep-alive-timeout",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds an idle keep-alive connection stays open.",
)
@click.option("--stream", is_flag=True, help="Also run the stream workers of `ladle stream` (every stream source).")
@pass_state
def serve_command(
    state: CliState,
    host: str,
    port: int,
    workers: int,
    no_access_log: bool,
    registry_ttl_sec: float | None,
    api_key: str | None,
    api_key_file: str | None,
    keep_alive_timeout: int,
    stream: bool,
) -> None:
    """Serve online features over HTTP (Feast's feature server API) until stopped."""
    from ladle.config import load_repo_config
    from ladle.server.auth import parse_keys
    from ladle.server.run import serve
    from ladle.server.settings import ServerSettings

    settings = ServerSettings(
        repo_path=str(state.repo_path),
        fs_yaml_file=str(state.fs_yaml_file) if state.fs_yaml_file else None,
        api_keys=parse_keys(api_key),
        api_keys_file=api_key_file,
        registry_ttl_sec=registry_ttl_sec,
        stream=stream,
    )
    config = load_repo_config(state.repo_path, state.fs_yaml_file)
    settings.resolve(config)  # a bad yaml fails here, in one line
    if stream:
        from ladle.server.streaming import check_streamable

        check_streamable(config)
    serve(
        settings,
        host=host,
        port=port,
        workers=workers,
        access_log=not no_access_log,
        keep_alive_timeout=keep_alive_timeout,
    )


# --- the stream worker ----------------------------------------------------------------------------------
@cli.command("stream")
@click.argument("sources", nargs=-1)
@click.option(
    "--group", default="ladle", show_default=True, help="Consumer group (workers in one group share a stream)."
)
@click.option("--consumer", default="", help="This worker's name in the group (default: HOST-PID).")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1), help="Messages per batch.")
@click.option("--no-offline", is_flag=True, help="Write online only (do not append to the offline source).")
@click.option(
    "--redis", "connection", default="", help="Redis to read when the source names none (host:port or redis://)."
)
@click.option(
    "--claim-idle-sec",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Take over messages another consumer left unacknowledged this long.",
)
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, help="Serve Prometheus metrics here.")
@click.option("--max-events", type=click.IntRange(min=1), default=None, help="Stop after this many events.")
@pass_state
def stream_command(
    state: CliState,
    sources: tuple[str, ...],
    group: str,
    consumer: str,
    batch_size: int,
    no_offline: bool,
    connection: str,
    claim_idle_sec: float,
    metrics_port: int | None,
    max_events: int | None,
) -> None:
    """Consume stream sources (all Redis Stream sources when none is named) into the online store, and append
    them to their offline source, until stopped (SIGTERM / Ctrl-C). See docs/streaming.md."""
    from ladle.cli.stream_run import run_stream
    from ladle.stream.binding import ReaderSettings
    from ladle.stream.worker import WorkerOptions

    reader = ReaderSettings(group, consumer, connection, claim_idle_sec)
    options = WorkerOptions(batch_size=batch_size, max_events=max_events)
    args = {"reader": reader, "options": options, "offline": not no_offline}
    run_stream(state.store(), list(sources), out.make_console(), args, metrics_port)


cli.add_command(ui_command)  # `ladle ui` (cli/ui_cmd.py)


# --- global options after the subcommand ---------------------------------------------------------------
# Feast tutorials write `feast apply --verbose`: the root group's options are accepted after any command too
# (a short name a command already uses keeps its meaning there, e.g. `materialize -v VIEW`).
def _set_state(field: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        state = ctx.find_object(CliState)
        if state is None:
            return
        if isinstance(value, Path):
            value = value.absolute()
        new = replace(state, **{field: value})
        node: click.Context | None = ctx
        while node is not None:  # the root group reads `verbose` when it reports an error
            if node.obj is state:
                node.obj = new
            node = node.parent

    return callback


def _global_options() -> list[click.Option]:
    return [
        click.Option(
            ["--chdir", "-c"],
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            expose_value=False,
            is_eager=True,
            hidden=True,
            callback=_set_state("repo_path"),
        ),
        click.Option(
            ["--feature-store-yaml", "-f"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            hidden=True,
            callback=_set_state("fs_yaml_file"),
        ),
        click.Option(
            ["--verbose", "-v"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            hidden=True,
            callback=_set_state("verbose"),
        ),
    ]


def _accept_global_options(command: click.Command) -> None:
    """Add the root options to ``command`` (and its subcommands), minus names the command already uses."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)
        return
    taken = {name for p in command.params for name in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
    for option in _global_options():
        free = [o for o in option.opts if o not in taken]
        if any(o.startswith("--") for o in free):
            option.opts = free
            command.params.append(option)


from ladle.cli import registry_cmds as _more  # noqa: E402  (registry history, saved datasets, reproduce)

_more.register(cli)
for _command in cli.commands.values():
    _accept_global_options(_command)
operate.register(cli, _accept_global_options)  # publish, versions, rollback, check (docs/operating.md)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script ``ladle``."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="ladle")
