"""The `paperfeed` command: a thin Typer + Rich layer, each command calling one service."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from paperfeed import __version__
from paperfeed.config import ENV_PREFIX, Settings
from paperfeed.errors import PaperfeedError
from paperfeed.models import Batch, IngestCounts, IngestRun


class _Commands(TyperGroup):
    """The root command group: expected errors become one clear line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            err.print(f"[red]Error:[/] {exc}", highlight=False)
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
        shown = "(set)" if name == "secret_key" and value else str(value)
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


# --- serve --------------------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the web pages and the JSON API."""
    import uvicorn

    settings = _settings(ctx)
    _db(ctx).dispose()  # refuse to start on an outdated schema, before forking workers
    # Workers rebuild the app from the environment, so pass on what the command line chose.
    os.environ[ENV_PREFIX + "DATABASE_URL"] = settings.database_url
    if ctx.find_root().params.get("config"):
        os.environ[ENV_PREFIX + "CONFIG"] = str(ctx.find_root().params["config"])
    uvicorn.run(
        "paperfeed.web.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
    )


# --- ingest -------------------------------------------------------------------------------------

RestartOpt = Annotated[
    bool, typer.Option("--restart", help="Start over instead of resuming an interrupted run.")
]


def _parse_date(value: str | None, name: str) -> dt.date | None:
    from paperfeed.feeds import parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except PaperfeedError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None


def _run_ingest(ctx: typer.Context, source, *, restart: bool) -> None:
    from paperfeed.ingest import ingest

    db = _db(ctx)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "new {task.fields[new]} · updated {task.fields[updated]} · "
            "unchanged {task.fields[unchanged]} · rejected {task.fields[rejected]}"
        ),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(
            f"ingest {source.name}", total=None, new=0, updated=0, unchanged=0, rejected=0
        )

        def on_batch(batch: Batch, counts: IngestCounts) -> None:
            seen = counts.new + counts.updated + counts.unchanged + counts.rejected
            progress.update(
                task,
                completed=seen,
                total=batch.total if batch.total and batch.total >= seen else None,
                new=counts.new,
                updated=counts.updated,
                unchanged=counts.unchanged,
                rejected=counts.rejected,
            )

        run = ingest(db, source, resume=not restart, on_batch=on_batch)
    _print_run(run)
    if run.status != "ok":
        raise typer.Exit(1)


def _print_run(run: IngestRun) -> None:
    c = run.counts
    table = Table(title=f"ingest run {run.id} · {run.source} · {run.status}", show_header=True)
    for col in ("new", "updated", "unchanged", "rejected"):
        table.add_column(col, justify="right")
    table.add_row(str(c.new), str(c.updated), str(c.unchanged), str(c.rejected))
    console.print(table)
    if run.rejections:
        console.print("[bold]Rejected records[/]")
        for r in run.rejections[:20]:
            console.print(f"  {r.ref}: {r.reason}", markup=False, highlight=False)
        if c.rejected > 20:
            console.print(f"  … and {c.rejected - 20} more")
    if run.error:
        err.print(f"[red]Run failed:[/] {run.error}", highlight=False)
        if run.cursor:
            err.print("What was stored is kept; run the same command again to resume.")


def _client(ctx: typer.Context):
    from paperfeed.sources.http import PoliteClient

    return PoliteClient.from_settings(_settings(ctx))


@ingest_app.command("arxiv")
def ingest_arxiv(
    ctx: typer.Context,
    category: Annotated[str, typer.Option(help="arXiv category, e.g. cs.LG.")],
    since: Annotated[str, typer.Option(help="First submission day, YYYY-MM-DD.")],
    until: Annotated[str | None, typer.Option(help="Last submission day (default: today).")] = None,
    restart: RestartOpt = False,
) -> None:
    """Fetch a category's papers submitted in a date range from the arXiv API."""
    from paperfeed.sources.arxiv_api import ArxivAPISource

    settings = _settings(ctx)
    with _client(ctx) as client:
        source = ArxivAPISource(
            client,
            base_url=settings.arxiv_api_url,
            category=category,
            since=_parse_date(since, "--since"),
            until=_parse_date(until, "--until"),
            page_size=settings.arxiv_page_size,
        )
        _run_ingest(ctx, source, restart=restart)


@ingest_app.command("oai")
def ingest_oai(
    ctx: typer.Context,
    set_spec: Annotated[
        str | None, typer.Option("--set", help="OAI set, e.g. cs or physics:hep-th.")
    ] = None,
    from_date: Annotated[
        str | None, typer.Option("--from", help="Records changed on or after, YYYY-MM-DD.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Records changed on or before.")] = None,
    restart: RestartOpt = False,
) -> None:
    """Harvest arXiv metadata in bulk or incrementally over OAI-PMH."""
    from paperfeed.sources.oai import OAISource

    settings = _settings(ctx)
    with _client(ctx) as client:
        source = OAISource(
            client,
            base_url=settings.arxiv_oai_url,
            set_spec=set_spec,
            from_date=_parse_date(from_date, "--from"),
            until=_parse_date(until, "--until"),
        )
        _run_ingest(ctx, source, restart=restart)


@ingest_app.command("hf-daily")
def ingest_hf_daily(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A daily_papers JSON file or a folder of them.")],
    restart: RestartOpt = False,
) -> None:
    """Import Hugging Face daily-papers JSON (the api/daily_papers?date= response)."""
    from paperfeed.sources.hf_daily import HFDailySource

    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    _run_ingest(ctx, HFDailySource(path), restart=restart)


@ingest_app.command("jsonl")
def ingest_jsonl(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="JSON lines file, plain or gzipped.")],
    restart: RestartOpt = False,
) -> None:
    """Import papers from JSON lines (the format `paperfeed export jsonl` writes)."""
    from paperfeed.sources.jsonl import JsonlSource

    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file", param_hint="PATH")
    source = JsonlSource(path, batch_size=_settings(ctx).ingest_batch_size)
    _run_ingest(ctx, source, restart=restart)


@ingest_app.command("log")
def ingest_log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
) -> None:
    """Show the latest ingest runs: source, status, counts and errors."""
    from paperfeed.store import runs

    db = _db(ctx)
    with db.connect() as conn:
        recent = runs.recent(conn, limit=limit)
    table = Table(
        "id", "source", "status", "started", "new", "updated", "unchanged", "rejected", "error"
    )
    for r in recent:
        c = r.counts
        table.add_row(
            str(r.id),
            r.source,
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            str(c.new),
            str(c.updated),
            str(c.unchanged),
            str(c.rejected),
            r.error or "",
        )
    console.print(table)


# --- papers / export ------------------------------------------------------------------------------


@papers_app.command("show")
def papers_show(
    ctx: typer.Context,
    arxiv_id: Annotated[str, typer.Argument(help="arXiv id or URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    bibtex: Annotated[bool, typer.Option("--bibtex", help="Print a BibTeX entry.")] = False,
) -> None:
    """Show one stored paper."""
    from paperfeed import citation
    from paperfeed.papers import get_paper
    from paperfeed.sources.jsonl import paper_to_record

    paper = get_paper(_db(ctx), arxiv_id)
    if as_json:
        print(json.dumps(paper_to_record(paper), ensure_ascii=False, indent=2))
        return
    if bibtex:
        print(citation.bibtex(paper))
        return
    console.print(f"[bold]{paper.title}[/]", highlight=False, markup=False)
    console.print(", ".join(paper.authors), style="dim", highlight=False, markup=False)
    meta = [f"arXiv:{paper.arxiv_id}v{paper.version}", f"listed {paper.listing_day}"]
    meta += [f"{paper.upvotes} upvotes", " ".join(paper.categories)]
    console.print(" · ".join(m for m in meta if m), highlight=False, markup=False)
    console.print()
    console.print(paper.abstract, highlight=False, markup=False)
    console.print()
    for label, url in (
        ("abs", paper.abs_url),
        ("pdf", paper.pdf_url),
        ("code", paper.code_url),
        ("project", paper.project_url),
    ):
        if url:
            console.print(f"{label:>8}: {url}", highlight=False, markup=False)


@app.command()
def trending(
    ctx: typer.Context,
    window: Annotated[str, typer.Option(help="day, week, month or all.")] = "week",
    limit: Annotated[int, typer.Option(help="How many papers.")] = 20,
) -> None:
    """Show the papers the community is upvoting, weighed by age."""
    from paperfeed import feeds

    settings = _settings(ctx)
    trends = feeds.trending(_db(ctx), window, limit=limit, gravity=settings.trending_gravity,
                            offset=settings.trending_offset_hours)  # fmt: skip
    table = Table("#", "score", "upvotes", "listed", "arXiv", "title")
    for i, t in enumerate(trends, start=1):
        p = t.paper
        table.add_row(str(i), f"{t.score:.4f}", str(p.upvotes), str(p.listing_day), p.arxiv_id,
                      p.title)  # fmt: skip
    console.print(table)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words, "phrases", author:"Name" or an arXiv id.')],
    limit: Annotated[int, typer.Option(help="How many results.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, keyword or semantic.")] = "hybrid",
    sort: Annotated[str, typer.Option(help="relevance, upvotes or date.")] = "relevance",
    has_code: Annotated[bool, typer.Option("--has-code", help="Only papers with code.")] = False,
) -> None:
    """Search stored papers from the terminal."""
    from paperfeed import search as search_service

    settings = _settings(ctx)
    results = search_service.search(
        _db(ctx), query, mode=mode, sort=sort, has_code=has_code, limit=limit,
        model=settings.embedding_model, max_tokens=settings.embedding_max_tokens,
    )  # fmt: skip
    if results.notice:
        err.print(results.notice, style="yellow", highlight=False)
    if not results.hits:
        console.print("No paper matches.")
        return
    table = Table("#", "score", "listed", "arXiv", "title")
    for i, hit in enumerate(results.hits, start=1):
        p = hit.paper
        table.add_row(str(i), f"{hit.score:.2f}", str(p.listing_day), p.arxiv_id, p.title)
    console.print(table)


@index_app.command("status")
def index_status(ctx: typer.Context) -> None:
    """How many papers are embedded for semantic search, and how many wait."""
    from paperfeed.search import indexing

    s = indexing.status(_db(ctx), _settings(ctx))
    console.print(f"model: {s['model']}", highlight=False)
    console.print(f"embedded: {s['embedded']}  pending: {s['pending']}", highlight=False)
    if not s["embedding_extra"]:
        console.print("The embedding extra is not installed: search uses keywords only "
                      "(pip install 'paperfeed[embeddings]').", style="yellow")  # fmt: skip


@index_app.command("embed")
def index_embed(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help="Embed at most this many papers.")] = None,
) -> None:
    """Embed the papers that have no vector yet (newest first); safe to stop and re-run."""
    from paperfeed.search import indexing

    db, settings = _db(ctx), _settings(ctx)
    pending = indexing.status(db, settings)["pending"]
    total = pending if limit is None else min(limit, pending)
    with Progress(SpinnerColumn(), TextColumn("[bold]embed"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as progress:  # fmt: skip
        task = progress.add_task("embed", total=total)
        done = indexing.embed_pending(db, settings, limit=limit,
                                      on_batch=lambda n: progress.advance(task, n))  # fmt: skip
    console.print(f"Embedded {done} papers.")


@users_app.command("create")
def users_create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make it an administrator.")] = False,
    password: Annotated[
        str | None,
        typer.Option(
            help="Password (else asked for, hidden); PAPERFEED_NEW_PASSWORD works too.",
            envvar="PAPERFEED_NEW_PASSWORD",
        ),
    ] = None,
) -> None:
    """Create a confirmed account, e.g. the first administrator."""
    from paperfeed import accounts

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = accounts.create_user(_db(ctx), _settings(ctx), email=email, password=password,
                                admin=admin)  # fmt: skip
    role = "administrator" if user.is_admin else "reader"
    console.print(f"Created {role} {user.email} (id {user.id}).", highlight=False, markup=False)


@export_app.command("jsonl")
def export_jsonl(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write; '-' for standard output.")
    ] = Path("-"),
) -> None:
    """Write every paper as JSON lines, the format `paperfeed ingest jsonl` reads."""
    from paperfeed.papers import count, export_jsonl

    db = _db(ctx)
    if str(output) == "-":
        n = export_jsonl(db, sys.stdout)
    else:
        tmp = output.with_name(output.name + ".part")
        with Progress(
            SpinnerColumn(), TextColumn("export"), BarColumn(), MofNCompleteColumn(), console=err
        ) as progress:
            task = progress.add_task("export", total=count(db))
            with tmp.open("w", encoding="utf-8") as fh:
                n = export_jsonl(db, fh, on_paper=lambda: progress.advance(task))
        tmp.replace(output)  # a half-written export never masquerades as a whole one
    err.print(f"Exported {n} papers.")


def main() -> None:
    """Console-script entry point."""
    app()
