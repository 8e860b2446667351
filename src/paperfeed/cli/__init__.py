"""The `paperfeed` command: a thin Typer + Rich layer, each command calling one service.

Commands live in modules by noun; importing them registers them on the shared app.
"""

from paperfeed.cli import (  # noqa: F401 - registers commands
    catalogue,
    community,
    digests,
    ingest,
    library,
    search,
)
from paperfeed.cli.common import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
