"""The command line's root: the Typer apps, shared helpers, serve, db and config."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from paperfeed import __version__, logs
from paperfeed.config import ENV_PREFIX, Settings, local_url
from paperfeed.errors import PaperfeedError

# Whole escape sequences first (CSI, OSC up to its terminator, other ESC pairs), so no
# parameter bytes are left behind, then any single control character (C0 but tab and newline,
# DEL, C1, whose U+009B and U+009D open CSI and OSC on their own), bidirectional overrides that
# reorder what is shown, and lone surrogates a terminal cannot encode.
_TERMINAL_UNSAFE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def terminal_text(value: object) -> str:
    """Text from outside (titles, authors, abstracts, queries, reasons) without anything a
    terminal would obey rather than show; the one cleaning every command's output goes through."""
    return _TERMINAL_UNSAFE.sub("", "" if value is None else str(value))


# json.dumps escapes C0 controls but leaves DEL, C1 and bidi overrides raw; escaped as \uXXXX the
# JSON means the same and the terminal sees nothing to obey.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_json(value: object) -> str:
    """`value` as indented JSON, readable (non-ASCII kept) yet safe to print on a terminal."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def term(value: object, style: str = "") -> Text:
    """terminal_text as a Rich Text: printed as it is, so "[bold]" in a title stays "[bold]"
    instead of becoming markup (or a MarkupError on "[/x]")."""
    return Text(terminal_text(value), style=style)


class _Commands(TyperGroup):
    """The root command group: expected errors become one clear line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            err.print(Text.assemble(("Error:", "red"), " ", term(exc)), highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Commands,
    help="paperfeed: daily research papers from arXiv, served on your own machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema and maintenance.", no_args_is_help=True)
ingest_app = typer.Typer(help="Fetch papers from a source into the database.", no_args_is_help=True)
papers_app = typer.Typer(help="Look at stored papers.", no_args_is_help=True)
export_app = typer.Typer(help="Write stored papers out.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(papers_app, name="papers")
app.add_typer(export_app, name="export")
users_app = typer.Typer(help="Reader accounts.", no_args_is_help=True)
index_app = typer.Typer(help="The semantic search index (paper embeddings).", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(users_app, name="users")
digest_app = typer.Typer(
    help="Email digests: send what is due, list subscribers.", no_args_is_help=True
)
app.add_typer(digest_app, name="digest")

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
console = Console()
err = Console(stderr=True)


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj["settings"]


def _db(ctx: typer.Context, *, check: bool = True):
    from paperfeed.store import Database

    db = Database(_settings(ctx).database_url)
    if check:
        db.check_schema()
    return db


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML settings file.", exists=True)
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", "-d", help="Database URL (else PAPERFEED_DATABASE_URL)."),
    ] = None,
) -> None:
    """Settings come from --config / PAPERFEED_CONFIG / ./paperfeed.toml and PAPERFEED_* vars."""
    settings = Settings.load(config, database_url=database_url)
    if settings.log_format == "json":
        logs.configure(settings.log_level, "json")
    else:
        logging.basicConfig(
            level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = {"settings": settings}


@app.command()
def version() -> None:
    """Print the paperfeed version."""
    console.print(__version__)


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Show every setting: its value, environment variable and meaning."""
    settings = _settings(ctx)
    table = Table("setting", "value", "environment variable", "meaning", show_lines=False)
    for name, env, _default, help_text in Settings.describe():
        value = getattr(settings, name)
        secret = name in ("secret_key", "smtp_password", "metrics_token", "github_token")
        shown = "(set)" if secret and value else str(value)
        table.add_row(name, shown, env, help_text)
    console.print(table)


# --- db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the database schema to the newest revision."""
    db = _db(ctx, check=False)
    before, after = db.upgrade()
    if before == after:
        console.print(f"Database already at revision {after}.")
    else:
        console.print(f"Database upgraded from {before or 'empty'} to revision {after}.")


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """Show the schema revision, and whether `db upgrade` is needed."""
    db = _db(ctx, check=False)
    current, head = db.current_revision(), db.head_revision()
    console.print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    console.print(f"revision: {current or 'empty'} (code needs {head})")
    if current != head:
        console.print("[yellow]Run `paperfeed db upgrade`.[/]")
        raise typer.Exit(1)


@db_app.command("copy")
def db_copy(
    ctx: typer.Context,
    to_url: Annotated[str, typer.Option("--to", help="Database to copy into (migrated first).")],
    from_url: Annotated[
        str | None, typer.Option("--from", help="Database to copy from (default: the configured).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per transaction on the target.")] = 2000,
) -> None:
    """Copy every table into another database (e.g. SQLite up to PostgreSQL); safe to re-run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    from paperfeed.store import Database
    from paperfeed.store.transfer import copy_database

    source = Database(from_url or _settings(ctx).database_url)
    target = Database(to_url)
    with Progress(
        TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), console=err
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def start(counts: dict[str, int]) -> None:
            for name, n in counts.items():
                tasks[name] = progress.add_task(name, total=n)

        def advance(name: str, n: int) -> None:
            progress.advance(tasks[name], n)

        results = copy_database(
            source, target, batch_size=max(1, batch_size), on_start=start, on_rows=advance
        )
    table = Table("table", "source rows", "target rows", "same?")
    for r in results:
        table.add_row(
            r.table, str(r.source_rows), str(r.target_rows), "yes" if r.matches else "[red]NO[/]"
        )
    console.print(table)
    wrong = [r.table for r in results if not r.matches]
    source.dispose()
    target.dispose()
    if wrong:
        err.print(
            f"[red]Counts differ in {', '.join(wrong)}:[/] the target held other rows before "
            "the copy, or rows were deleted from the source since an earlier copy."
        )
        raise typer.Exit(1)
    console.print(f"Copied {sum(r.source_rows for r in results)} rows; every count matches.")


@db_app.command("backup")
def db_backup(
    ctx: typer.Context,
    destination: Annotated[Path, typer.Argument(help="File to write the backup to.")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Back up the SQLite database while it serves (PostgreSQL: pg_dump, see the docs)."""
    from paperfeed.store.backup import backup

    db = _db(ctx, check=False)
    size = backup(db, destination, overwrite=overwrite)
    console.print(f"Backed up to {destination} ({size / 1e6:.1f} MB).")


@db_app.command("restore")
def db_restore(
    ctx: typer.Context,
    backup_file: Annotated[Path, typer.Argument(help="A file written by `paperfeed db backup`.")],
) -> None:
    """Replace the SQLite database's contents with a backup's, in one step (stop serving first)."""
    from paperfeed.store.backup import restore

    db = _db(ctx, check=False)
    revision = restore(db, backup_file)
    console.print(f"Restored {backup_file} (schema revision {revision}).")
    if revision != db.head_revision():
        console.print("[yellow]Run `paperfeed db upgrade` before serving.[/]")


# --- serve --------------------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    with_scheduler: Annotated[
        bool,
        typer.Option(
            "--with-scheduler",
            help="Also send due email digests every "
            "digest_interval_minutes, from this process (run it on one host only).",
        ),
    ] = False,
) -> None:
    """Serve the web pages and the JSON API (several workers share nothing but the database)."""
    import threading

    import uvicorn

    settings = _settings(ctx)
    if (host or port) and settings.base_url == local_url(settings.host, settings.port):
        # No base_url of its own: links in mail and feeds follow where we actually listen.
        host, port = host or settings.host, port or settings.port
        settings = dataclasses.replace(settings, host=host, port=port, base_url="")
        os.environ[ENV_PREFIX + "HOST"] = host
        os.environ[ENV_PREFIX + "PORT"] = str(port)
        logging.getLogger("paperfeed.serve").info("links point at %s", settings.base_url)
    workers = workers or settings.workers
    if workers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--workers")
    db = _db(ctx)  # refuse to start on an outdated schema, before forking workers
    db.check_writable()  # ... or on a read-only file: one clear line, not a traceback per write
    db.dispose()
    # Workers rebuild the app from the environment, so pass on what the command line chose.
    os.environ[ENV_PREFIX + "DATABASE_URL"] = settings.database_url
    if ctx.find_root().params.get("config"):
        os.environ[ENV_PREFIX + "CONFIG"] = str(ctx.find_root().params["config"])
    metrics_dir = _metrics_dir(workers)
    if metrics_dir:
        logging.getLogger("paperfeed.serve").info(
            "metrics of the %d workers are gathered in %s", workers, metrics_dir
        )
    if with_scheduler:
        from paperfeed import digests

        threading.Thread(
            target=digests.run_forever,
            args=(_db(ctx), settings),
            daemon=True,
            name="digest-scheduler",
        ).start()
    uvicorn.run(
        "paperfeed.web.app:serve_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
        log_config=logs.dict_config(settings.log_level, settings.log_format),
        access_log=False,  # paperfeed.access logs each request, with its id
        # Behind a reverse proxy on the same host, trust its X-Forwarded-* for client addresses.
        proxy_headers=True,
    )


def _metrics_dir(workers: int) -> str | None:
    """Prepare PROMETHEUS_MULTIPROC_DIR for several workers: the one given, emptied of files
    from an earlier run, or a new temporary one. One worker keeps its metrics in memory."""
    import tempfile

    # Spelled out, not imported from paperfeed.metrics: prometheus_client reads the variable
    # once, when first imported, so nothing here may import it before the variable is set.
    given = os.environ.get(METRICS_ENV)
    if not given and workers == 1:
        return None
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="paperfeed-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    # Counters of processes that ended must not be counted again by this run.
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[METRICS_ENV] = str(folder)
    return str(folder)
