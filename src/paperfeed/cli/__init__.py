"""The `paperfeed` command: a thin Typer + Rich layer, each command calling one service.

Commands live in modules by noun; importing them registers them on the shared app.
"""

from paperfeed.cli import catalogue, community, ingest, search  # noqa: F401 - registers commands
from paperfeed.cli.common import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
