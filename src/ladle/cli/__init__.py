"""The ``ladle`` command: commands (``commands.py``) and how they print (``output.py``)."""

from ladle.cli.commands import cli, main

__all__ = ["cli", "main"]
