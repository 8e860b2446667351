"""`paperfeed ingest ...`: fetching papers from arXiv, Hugging Face files and JSON lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, overload

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from paperfeed.cli.common import (
    _db,
    _settings,
    console,
    err,
    ingest_app,
    term,
)
from paperfeed.errors import PaperfeedError
from paperfeed.models import Batch, IngestCounts, IngestRun

# --- ingest -------------------------------------------------------------------------------------

RestartOpt = Annotated[
    bool, typer.Option("--restart", help="Start over instead of resuming an interrupted run.")
]


@overload
def _parse_date(value: str, name: str) -> dt.date: ...
@overload
def _parse_date(value: str | None, name: str) -> dt.date | None: ...
def _parse_date(value: str | None, name: str) -> dt.date | None:
    from paperfeed.feeds import parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except PaperfeedError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None


EmbedOpt = Annotated[
    bool,
    typer.Option(
        "--embed", help="Then embed the new papers for semantic search (embeddings extra)."
    ),
]


def _run_ingest(ctx: typer.Context, source, *, restart: bool, embed: bool = False) -> None:
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
    if embed:
        from paperfeed.cli.search import embed_with_progress

        embed_with_progress(ctx)


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
            console.print(term(f"  {r.ref}: {r.reason}"), highlight=False)
        if c.rejected > 20:
            console.print(f"  … and {c.rejected - 20} more")
    if run.error:
        err.print(Text.assemble(("Run failed:", "red"), " ", term(run.error)), highlight=False)
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
    embed: EmbedOpt = False,
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
        _run_ingest(ctx, source, restart=restart, embed=embed)


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
    embed: EmbedOpt = False,
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
        _run_ingest(ctx, source, restart=restart, embed=embed)


@ingest_app.command("hf-daily")
def ingest_hf_daily(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A daily_papers JSON file or a folder of them.")],
    restart: RestartOpt = False,
    embed: EmbedOpt = False,
) -> None:
    """Import Hugging Face daily-papers JSON (the api/daily_papers?date= response)."""
    from paperfeed.sources.hf_daily import HFDailySource

    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    _run_ingest(ctx, HFDailySource(path), restart=restart, embed=embed)


@ingest_app.command("jsonl")
def ingest_jsonl(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="JSON lines file, plain or gzipped.")],
    restart: RestartOpt = False,
    embed: EmbedOpt = False,
) -> None:
    """Import papers from JSON lines (the format `paperfeed export jsonl` writes)."""
    from paperfeed.sources.jsonl import JsonlSource

    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file", param_hint="PATH")
    source = JsonlSource(path, batch_size=_settings(ctx).ingest_batch_size)
    _run_ingest(ctx, source, restart=restart, embed=embed)


@ingest_app.command("github-stars")
def ingest_github_stars(
    ctx: typer.Context,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ask about every repository again today.")
    ] = False,
) -> None:
    """Refresh the GitHub stars of every repository papers link to, one snapshot a day
    (token: PAPERFEED_GITHUB_TOKEN; resumes where a stopped run left off)."""
    from paperfeed import stars

    settings = _settings(ctx)
    db = _db(ctx)
    if not settings.github_token:
        err.print("[yellow]No github_token set: GitHub allows 60 requests an hour without one.[/]")
    with (
        stars.client_for(settings) as client,
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]github stars"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "changed {task.fields[ok]} · unchanged {task.fields[unchanged]} · "
                "missing {task.fields[missing]} · errors {task.fields[errors]} · "
                "waited {task.fields[waited]:.0f} s"
            ),
            TimeElapsedColumn(),
            console=err,
        ) as bar,
    ):
        task = bar.add_task("stars", total=None, ok=0, unchanged=0, missing=0, errors=0, waited=0)

        def on_progress(p: stars.Progress) -> None:
            bar.update(
                task,
                total=p.total,
                completed=p.done,
                ok=p.ok,
                unchanged=p.unchanged,
                missing=p.missing,
                errors=p.errors,
                waited=p.waited,
            )

        result = stars.refresh(db, client, restart=restart, on_progress=on_progress)
    if result.resumed_from:
        console.print(f"Resumed after {result.resumed_from}.", highlight=False)
    _print_run(result.run)
    console.print(f"{result.papers_changed} papers got a new star count.")
    if result.stopped:
        raise typer.Exit(1)


@ingest_app.command("log")
def ingest_log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
) -> None:
    """Show the latest ingest runs: source, status, counts and errors."""
    from paperfeed.ingest import recent_runs

    recent = recent_runs(_db(ctx), limit=limit)
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
            term(r.error or ""),
        )
    console.print(table)
