"""`paperfeed search` and `paperfeed index ...`: finding papers and the semantic index."""

from __future__ import annotations

from typing import Annotated

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

from paperfeed.cli.common import (
    _db,
    _settings,
    app,
    console,
    err,
    index_app,
    term,
)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words, "phrases", author:"Name" or an arXiv id.')],
    limit: Annotated[int, typer.Option(help="How many results.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, keyword or semantic.")] = "hybrid",
    sort: Annotated[str, typer.Option(help="relevance, upvotes or date.")] = "relevance",
    has_code: Annotated[bool, typer.Option("--has-code", help="Only papers with code.")] = False,
    since: Annotated[str | None, typer.Option(help="Listed on or after, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Listed on or before, YYYY-MM-DD.")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Only this arXiv category (repeat, or a,b).")
    ] = None,
) -> None:
    """Search stored papers from the terminal."""
    from paperfeed import feeds
    from paperfeed import search as search_service

    settings = _settings(ctx)
    results = search_service.search(
        _db(ctx),
        query,
        mode=mode,
        sort=sort,
        has_code=has_code,
        since=feeds.parse_day(since) if since else None,
        until=feeds.parse_day(until) if until else None,
        categories=[c for value in category or () for c in value.split(",")],
        limit=limit,
        settings=settings,
        snippets=False,
    )
    if results.notice:
        err.print(term(results.notice, "yellow"), highlight=False)
    if not results.hits:
        console.print("No paper matches.")
        return
    table = Table("#", "score", "listed", "arXiv", "title")
    for i, hit in enumerate(results.hits, start=1):
        p = hit.paper
        table.add_row(str(i), f"{hit.score:.2f}", str(p.listing_day), p.arxiv_id, term(p.title))
    console.print(table)


@index_app.command("status")
def index_status(ctx: typer.Context) -> None:
    """How many papers are embedded for semantic search, and how many wait."""
    from paperfeed.search import indexing

    s = indexing.status(_db(ctx), _settings(ctx))
    console.print(f"model: {s['model']}", highlight=False)
    console.print(f"embedded: {s['embedded']}  pending: {s['pending']}", highlight=False)
    if s["indexed"] is None:
        console.print(
            f"vector index: none yet at {s['index_path']} (built on first use, or "
            "`paperfeed index rebuild`)",
            highlight=False,
        )
    else:
        console.print(
            f"vector index: {s['indexed']} vectors, generation {s['index_generation']}, "
            f"up to {s['index_high_water']:%Y-%m-%d %H:%M:%S} UTC, at {s['index_path']}"
            if s["index_high_water"]
            else f"vector index: {s['indexed']} vectors at {s['index_path']}",
            highlight=False,
        )
    for model, n in s["other_models"].items():
        console.print(
            f"also stored: {n} vectors of {model} (unused: set embedding_model to {model} to "
            "search them, or keep embedding with the configured model)",
            highlight=False,
            markup=False,
        )
    if not s["embedding_extra"]:
        console.print(
            "The embedding extra is not installed: search uses keywords only "
            "(pip install 'paperfeed[embeddings]').",
            style="yellow",
        )


@index_app.command("embed")
def index_embed(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help="Embed at most this many papers.")] = None,
) -> None:
    """Embed the papers that have no vector yet (newest first); safe to stop and re-run."""
    embed_with_progress(ctx, limit=limit)


@index_app.command("rebuild")
def index_rebuild(ctx: typer.Context) -> None:
    """Write the vector index file anew from the vectors stored in the database."""
    from paperfeed.search import indexing

    db, settings = _db(ctx), _settings(ctx)
    with _bar() as progress:
        task = progress.add_task("index", total=None)
        count = indexing.rebuild_index(db, settings, on_progress=_advance(progress, task))
    console.print(f"Indexed {count} vectors in {indexing.ann_file(settings).dir}.", highlight=False)


def _bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def _advance(progress: Progress, task):
    """A progress callback for `(added, total)`: the total is the one the index itself reports
    (folding can add more than was just embedded: a first build takes every stored vector)."""

    def advance(added: int, total: int | None = None) -> None:
        if total is not None:
            progress.update(task, total=total)
        progress.advance(task, added)

    return advance


def embed_with_progress(ctx: typer.Context, *, limit: int | None = None) -> None:
    """Embed pending papers behind a progress bar, then fold them into the vector index behind
    another (shared by `index embed` and `ingest --embed`)."""
    from paperfeed.search import indexing

    db, settings = _db(ctx), _settings(ctx)
    pending = indexing.status(db, settings)["pending"]
    total = pending if limit is None else min(limit, pending)
    with _bar() as progress:
        task = progress.add_task("embed", total=total)
        done = indexing.embed_pending(
            db, settings, limit=limit, fold=False, on_batch=lambda n: progress.advance(task, n)
        )
        if done:
            folding = progress.add_task("index", total=None)
            indexing.update_index(db, settings, on_progress=_advance(progress, folding))
    console.print(f"Embedded {done} papers.")
