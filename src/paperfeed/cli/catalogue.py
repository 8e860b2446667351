"""`paperfeed papers show` and `paperfeed export jsonl`: stored papers, one or all."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
)

from paperfeed.cli.common import (
    _db,
    console,
    err,
    export_app,
    papers_app,
    term,
    terminal_json,
    terminal_text,
)
from paperfeed.sources.links import safe_url

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
        print(terminal_json(paper_to_record(paper)))
        return
    if bibtex:
        print(terminal_text(citation.bibtex(paper)))
        return
    console.print(term(paper.title, "bold"), highlight=False)
    console.print(term(", ".join(paper.authors), "dim"), highlight=False)
    meta = [f"arXiv:{paper.arxiv_id}v{paper.version}", f"listed {paper.listing_day}"]
    meta += [f"{paper.upvotes} upvotes", " ".join(paper.categories)]
    console.print(term(" · ".join(m for m in meta if m)), highlight=False)
    console.print()
    console.print(term(paper.abstract), highlight=False)
    console.print()
    for label, url in (
        ("abs", paper.abs_url),
        ("pdf", paper.pdf_url),
        ("code", safe_url(paper.code_url)),
        ("project", safe_url(paper.project_url)),
    ):
        if url:
            console.print(term(f"{label:>8}: {url}"), highlight=False)


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
