"""The options ``ladle serve`` and ``ladle ui`` share: how often the registry is re-read, and the API keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["access_options"]


def access_options(api_key_help: str, key_file_help: str) -> Callable[[Any], Any]:
    """``--registry-ttl-sec``, ``--api-key`` and ``--api-key-file``, with each command's own help texts."""
    options = [
        click.option(
            "--registry-ttl-sec",
            "--registry_ttl_sec",
            "-r",
            type=click.FloatRange(min=0),
            default=None,
            help="Seconds between background registry refreshes (default: feature_server.registry_ttl_sec, 5).",
        ),
        click.option("--api-key", envvar="LADLE_API_KEY", default=None, show_envvar=True, help=api_key_help),
        click.option(
            "--api-key-file",
            envvar="LADLE_API_KEY_FILE",
            default=None,
            show_envvar=True,
            type=click.Path(exists=True, dir_okay=False, resolve_path=True),
            help=key_file_help,
        ),
    ]

    def apply(command: Any) -> Any:
        for option in reversed(options):  # the first listed is the outermost, as stacked decorators are
            command = option(command)
        return command

    return apply
