"""`paperfeed trending` and `paperfeed users create`: the community side."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from paperfeed.cli.common import (
    _db,
    _settings,
    app,
    console,
    term,
    users_app,
)


@app.command()
def trending(
    ctx: typer.Context,
    window: Annotated[str, typer.Option(help="day, week, month or all.")] = "week",
    limit: Annotated[int, typer.Option(help="How many papers.")] = 20,
) -> None:
    """Show the papers the community is upvoting, weighed by age."""
    from paperfeed import feeds

    settings = _settings(ctx)
    trends = feeds.trending(
        _db(ctx),
        window,
        limit=limit,
        gravity=settings.trending_gravity,
        offset=settings.trending_offset_hours,
    )
    table = Table("#", "score", "upvotes", "listed", "arXiv", "title")
    for i, t in enumerate(trends, start=1):
        p = t.paper
        table.add_row(
            str(i),
            f"{t.score:.4f}",
            str(p.upvotes),
            str(p.listing_day),
            p.arxiv_id,
            term(p.title),
        )
    console.print(table)


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
    user = accounts.create_user(
        _db(ctx), _settings(ctx), email=email, password=password, admin=admin
    )
    role = "administrator" if user.is_admin else "reader"
    console.print(term(f"Created {role} {user.email} (id {user.id})."), highlight=False)
