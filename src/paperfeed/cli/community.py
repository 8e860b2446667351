"""`paperfeed trending` and `paperfeed users create|token|tokens`: the community side."""

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


tokens_app = typer.Typer(help="A reader's personal API tokens.", no_args_is_help=True)
users_app.add_typer(tokens_app, name="tokens")


@users_app.command("token")
def users_token(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
) -> None:
    """Create an API token for an account and print it alone on stdout, for scripts:
    TOKEN=$(paperfeed users token ada@example.org --name digest-bot)."""
    from paperfeed import accounts

    db = _db(ctx)
    token = accounts.create_api_token(db, user=accounts.user_by_email(db, email), name=name)
    typer.echo(token)  # plain stdout: no Rich wrapping or colour around the secret


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
) -> None:
    """An account's API tokens: id, name, when created and last used (never the secret)."""
    from paperfeed import accounts

    db = _db(ctx)
    user = accounts.user_by_email(db, email)
    tokens = accounts.api_tokens(db, user=user)
    if not tokens:
        console.print(f"{user.email} has no API tokens.", highlight=False, markup=False)
        return
    table = Table("id", "name", "created", "last used")
    for t in tokens:
        last = t["last_used_at"]
        table.add_row(
            str(t["id"]),
            term(t["name"]),  # never read as Rich markup or terminal controls
            f"{t['created_at']:%Y-%m-%d %H:%M}",
            f"{last:%Y-%m-%d %H:%M}" if last else "never",
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    ids: Annotated[list[int] | None, typer.Argument(help="Token ids (from `tokens list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Revoke every token of the account.")] = False,
) -> None:
    """Revoke API tokens of an account: the ones named by id, or --all."""
    from paperfeed import accounts
    from paperfeed.errors import InvalidInput

    db = _db(ctx)
    user = accounts.user_by_email(db, email)
    if all_ == bool(ids):
        raise InvalidInput("name the token ids to revoke, or give --all (not both)")
    if all_:
        n = accounts.revoke_api_tokens(db, user=user)
        console.print(f"Revoked {n} token(s) of {user.email}.", highlight=False, markup=False)
        return
    for token_id in ids or []:
        accounts.revoke_api_token(db, user=user, token_id=token_id)
        console.print(f"Revoked token {token_id} of {user.email}.", highlight=False, markup=False)
