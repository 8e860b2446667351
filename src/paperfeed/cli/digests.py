"""`paperfeed digest send` and `paperfeed digest list`: the email digests from the terminal."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from paperfeed.cli.common import _db, _settings, console, digest_app, term
from paperfeed.errors import InvalidInput


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--now {text[:40]!r}: use ISO time, 2025-11-20T07:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@digest_app.command("send")
def send(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what is due and how many papers; send nothing.")
    ] = False,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Mail one preview digest to this address now (its own "
            "preferences if it is subscribed); the schedule is not touched.",
        ),
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="Act as if it were this time (ISO 8601), e.g. to replay.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Sender processes (default: the digest_workers setting)."),
    ] = None,
) -> None:
    """Send every digest that is due now, each exactly once; run it every few minutes."""
    from paperfeed import digests

    db, settings = _db(ctx), _settings(ctx)
    if to:
        digest = digests.send_preview(db, settings, to=to, now=_when(now))
        console.print(term(f"Preview with {digest.count} papers sent to {to}."))
        return
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("digests", total=None)
        report = digests.send_due(
            db,
            settings,
            now=_when(now),
            dry_run=dry_run,
            workers=workers,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if dry_run:
        table = Table("to", "period", "papers")
        for address, period, count in report.planned:
            table.add_row(term(address), period[2:], str(count))
        console.print(table)
        console.print(f"{report.due} digests due; nothing sent (dry run).")
        return
    console.print(
        f"{report.due} due: {report.sent} sent, {report.empty} with nothing new, "
        f"{report.retry} to retry, {report.failed} failed, {report.paused} paused, "
        f"{report.skipped} taken by another sender."
    )
    if report.aborted:
        console.print(Text.assemble(("Stopped early:", "red"), " ", term(report.aborted)))
        raise typer.Exit(1)


@digest_app.command("list")
def list_subscriptions(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only pending, active, paused or unsubscribed.")
    ] = None,
) -> None:
    """Show the subscribers, their schedule and topics."""
    from paperfeed.subscriptions import listing

    subs = listing(_db(ctx), status=status)
    table = Table("id", "email", "status", "cadence", "at", "topics")
    for s in subs:
        p = s.prefs
        at = f"{p.send_hour:02d}:00 {p.timezone}"
        if p.cadence == "weekly":
            at = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][p.weekday] + " " + at
        table.add_row(str(s.id), term(s.email), s.status, p.cadence, at, term("; ".join(p.topics)))
    console.print(table)
