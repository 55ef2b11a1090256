"""``ladle ui``: the web UI of the repo (registry, lineage, freshness, values, history); see docs/ui.md."""

from __future__ import annotations

import click

from ladle.cli.access_options import access_options

__all__ = ["ui_command"]


# Feast's `ui -h HOST`: for this command only, -h is the host and help is --help.
@click.command("ui", context_settings={"help_option_names": ["--help"], "max_content_width": 110})
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", "-p", default=8888, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@access_options(
    api_key_help="Require this key (comma-separated for several) for the API, as `ladle serve` does.",
    key_file_help="Keys, one '[read|write|admin] key [project,...]' a line (any scope may use the UI).",
)
@click.pass_context
def ui_command(
    ctx: click.Context,
    host: str,
    port: int,
    registry_ttl_sec: float | None,
    api_key: str | None,
    api_key_file: str | None,
) -> None:
    """Serve a read-only web UI of the feature repo (pages and a JSON API under /api/) until stopped."""
    from ladle.config import load_repo_config
    from ladle.server.auth import parse_keys
    from ladle.server.settings import ServerSettings
    from ladle.ui import serve_ui

    state = ctx.obj
    settings = ServerSettings(
        repo_path=str(state.repo_path),
        fs_yaml_file=str(state.fs_yaml_file) if state.fs_yaml_file else None,
        api_keys=parse_keys(api_key),
        api_keys_file=api_key_file,
        registry_ttl_sec=registry_ttl_sec,
    )
    settings.resolve(load_repo_config(state.repo_path, state.fs_yaml_file))  # a bad yaml fails here, in one line
    click.echo(f"ladle ui: http://{host if ':' not in host else f'[{host}]'}:{port}/", err=True)
    serve_ui(settings, host=host, port=port)
