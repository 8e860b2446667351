"""`paperfeed library import|export`, `paperfeed recommend` and `paperfeed users token`: a
reader's library and personal ranking from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from paperfeed.cli.common import _db, _settings, app, console, err

library_app = typer.Typer(help="A reader's library: import and export.", no_args_is_help=True)
app.add_typer(library_app, name="library")

UserOption = Annotated[str, typer.Option("--user", help="The reader's email address.")]


def _plain(text: str) -> str:
    # Imported titles are untrusted: no Rich markup, no terminal control characters.
    return escape("".join(c if c.isprintable() else " " for c in text))


@library_app.command("import")
def library_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="BibTeX, RIS, CSL-JSON or a list of arXiv ids.")],
    user: UserOption,
    collection: Annotated[
        str | None, typer.Option(help="Also file every entry in this collection.")
    ] = None,
    fetch: Annotated[
        bool, typer.Option(help="Fetch arXiv ids the catalogue lacks from arXiv.")
    ] = True,
    embed: Annotated[
        bool, typer.Option(help="Embed entries the catalogue has no vector for.")
    ] = True,
) -> None:
    """Import a bibliography into a reader's library (format detected from the content)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from paperfeed import library, recommend
    from paperfeed.sources.http import PoliteClient

    db, settings = _db(ctx), _settings(ctx)
    reader = library.reader_by_email(db, user)
    data = file.read_bytes()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
    ) as progress:
        task = progress.add_task("importing", total=None)
        client = PoliteClient.from_settings(settings) if fetch else None
        try:
            report = library.import_references(
                db,
                settings,
                reader,
                data,
                client=client,
                collection=collection,
                on_total=lambda n: progress.update(task, total=n),
                on_progress=lambda n: progress.advance(task, n),
            )
        finally:
            if client is not None:
                client.close()
        if embed:
            missing = recommend.missing_vectors(db, settings, reader.id)
            if missing:
                etask = progress.add_task("embedding", total=missing)
                recommend.embed_library(
                    db, settings, reader.id, on_progress=lambda n: progress.advance(etask, n)
                )
    for e in report.entries:
        where = f"entry {e.entry}" if e.entry else "file"
        err.print(f"{where}: {e.status}: {_plain(e.message)}", highlight=False)
    console.print(
        f"{report.format}: {report.added} added, {report.merged} merged, {report.fetched} "
        f"fetched from arXiv, {report.unknown} unknown ids, {report.pending} waiting for arXiv, "
        f"{report.skipped} skipped",
        highlight=False,
    )


@library_app.command("export")
def library_export(
    ctx: typer.Context,
    user: UserOption,
    format: Annotated[str, typer.Option(help="bibtex or csl-json.")] = "bibtex",
    collection: Annotated[str | None, typer.Option(help="Only this collection (by name).")] = None,
) -> None:
    """Write a reader's library (or one collection) to stdout as BibTeX or CSL-JSON."""
    from paperfeed import library

    if format not in ("bibtex", "csl-json"):
        raise typer.BadParameter("use bibtex or csl-json", param_hint="--format")
    db = _db(ctx)
    reader = library.reader_by_email(db, user)
    collection_id = None
    if collection is not None:
        named = {c.name: c.id for c in library.collections(db, reader)}
        if collection not in named:
            raise typer.BadParameter(f"no collection {collection!r}", param_hint="--collection")
        collection_id = named[collection]
    entries = library.items(db, reader, collection_id=collection_id)
    text = library.to_bibtex(entries) if format == "bibtex" else library.to_csl_json(entries)
    typer.echo(text, nl=False)


@app.command()
def recommend(
    ctx: typer.Context,
    user: UserOption,
    date: Annotated[
        str | None, typer.Option(help="A listing day YYYY-MM-DD (default: the latest).")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many papers.")] = 20,
) -> None:
    """A reader's ranking of a day's papers, with the reason for each."""
    from paperfeed import feeds, library
    from paperfeed import recommend as service

    db, settings = _db(ctx), _settings(ctx)
    reader = library.reader_by_email(db, user)
    day = feeds.parse_day(date) if date else feeds.default_period(db).start
    picks = service.api_for_you(db, settings, reader, day=day, limit=max(1, min(limit, 1000)))
    table = Table("#", "score", "arXiv", "title", "why", title=f"For {reader.email}, {day}")
    for i, p in enumerate(picks, start=1):
        table.add_row(
            str(i), f"{p.score:.3f}", p.paper.arxiv_id, _plain(p.paper.title), _plain(p.reason)
        )
    console.print(table)
