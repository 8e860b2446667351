"""Account pages: sign-up, confirmation, log in and out, password reset, the account page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import accounts, voting
from paperfeed.addresses import echo
from paperfeed.errors import InvalidInput, NotAllowed
from paperfeed.web import auth
from paperfeed.web.guards import CSRF, DB, Config, SignedIn, by_ip, by_reader, limit
from paperfeed.web.render import render

router = APIRouter(include_in_schema=False)

SAME_ANSWER_SIGNUP = (
    "Check your inbox: we sent a message to {email}. Follow its link to finish signing up."
)
SAME_ANSWER_RESET = (
    "If {email} has an account, a link to choose a new password is on its way. It works for "
    "one hour."
)


def _ip(request: Request) -> str:
    return f"ip:{request.client.host if request.client else 'unknown'}"


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let other sites borrow our login page.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _message(request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
    return render(request, "message.html", {"title": title, "text": text}, status=status)


def _form(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    return render(request, template, context, status=status)


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    return _form(request, "signup.html")


@router.post(
    "/signup", response_class=HTMLResponse, dependencies=[CSRF, limit("signup", key=by_ip)]
)
def signup(
    request: Request,
    settings: Config,
    db: DB,
    background: BackgroundTasks,
    email: str = Form(""),
    password: str = Form(""),
    name: str = Form(""),
) -> HTMLResponse:
    try:
        accounts.signup(
            db, settings, email=email, password=password, name=name, defer=background.add_task
        )
    except InvalidInput as exc:
        return _form(
            request, "signup.html", 400, error=str(exc), email=echo(email), name=echo(name)[:80]
        )
    return _message(request, "Check your inbox", SAME_ANSWER_SIGNUP.format(email=email.strip()))


@router.get("/confirm", response_class=HTMLResponse)
def confirm(request: Request, token: str = Query("")) -> Response:
    settings, db = request.app.state.settings, request.app.state.db
    try:
        target = accounts.confirmation_for(db, settings, token)
    except NotAllowed as exc:
        return _message(request, "That link does not work", str(exc), status=400)
    current = auth.user(request)
    if current is not None and current.id != target.id:
        # Someone else's link must not silently swap the account this browser is signed in to.
        return _form(request, "confirm_switch.html", token=token, current=current, target=target)
    return _confirm_and_sign_in(request, token)


@router.post(
    "/confirm", response_class=HTMLResponse, dependencies=[CSRF, limit("login", key=by_ip)]
)
def confirm_switch(request: Request, token: str = Form("")):
    return _confirm_and_sign_in(request, token)


def _confirm_and_sign_in(request: Request, token: str) -> Response:
    settings, db = request.app.state.settings, request.app.state.db
    try:
        user = accounts.confirm(db, settings, token)
    except NotAllowed as exc:
        return _message(request, "That link does not work", str(exc), status=400)
    cookie, _session = accounts.start_session(
        db, settings, user, replacing=request.cookies.get(auth.SESSION_COOKIE)
    )
    response = RedirectResponse("/account?welcome=1", status_code=303)
    auth.set_session_cookie(request, response, cookie, settings.session_days * 86400)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = Query("/")) -> HTMLResponse:  # noqa: A002
    return _form(request, "login.html", next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse, dependencies=[CSRF, limit("login", key=by_ip)])
def login(
    request: Request,
    settings: Config,
    db: DB,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),  # noqa: A002
) -> Response:
    # The lockout (failures per normalised address) is accounts.log_in's policy.
    try:
        user = accounts.log_in(db, settings, email=email, password=password, client=_ip(request))
    except (InvalidInput, NotAllowed) as exc:
        return _form(
            request, "login.html", 400, error=str(exc), email=echo(email), next=_safe_next(next)
        )
    cookie, _session = accounts.start_session(
        db, settings, user, replacing=request.cookies.get(auth.SESSION_COOKIE)
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    auth.set_session_cookie(request, response, cookie, settings.session_days * 86400)
    return response


@router.post("/logout", dependencies=[CSRF, limit("write", key=by_ip)])
def logout(request: Request) -> Response:
    accounts.end_session(request.app.state.db, request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    auth.clear_session_cookie(request, response)
    return response


@router.get("/reset", response_class=HTMLResponse)
def reset_page(request: Request) -> HTMLResponse:
    return _form(request, "reset.html")


@router.post("/reset", response_class=HTMLResponse, dependencies=[CSRF, limit("reset", key=by_ip)])
def reset(
    request: Request,
    settings: Config,
    db: DB,
    background: BackgroundTasks,
    email: str = Form(""),
) -> HTMLResponse:
    try:
        # Known or not, the same work here: the lookup and the mail run after the answer.
        accounts.request_password_reset(db, settings, email=email, defer=background.add_task)
    except InvalidInput as exc:
        return _form(request, "reset.html", 400, error=str(exc), email=echo(email))
    return _message(request, "Check your inbox", SAME_ANSWER_RESET.format(email=email.strip()))


@router.get("/reset/confirm", response_class=HTMLResponse)
def reset_confirm_page(request: Request, token: str = Query("")) -> HTMLResponse:
    return _form(request, "reset_confirm.html", token=token)


@router.post(
    "/reset/confirm", response_class=HTMLResponse, dependencies=[CSRF, limit("write", key=by_ip)]
)
def reset_confirm(
    request: Request,
    settings: Config,
    db: DB,
    token: str = Form(""),
    password: str = Form(""),
) -> Response:
    try:
        accounts.reset_password(db, settings, token=token, password=password)
    except InvalidInput as exc:
        return _form(request, "reset_confirm.html", 400, token=token, error=str(exc))
    except NotAllowed as exc:
        return _message(request, "That link does not work", str(exc), status=400)
    return _message(request, "Password changed", "Your new password is set. Log in with it.")


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request, user: SignedIn, db: DB, token_created: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "account.html",
        {
            "account": user,
            "upvoted": voting.upvoted_papers(db, user),
            "tokens": accounts.api_tokens(db, user=user),
            "welcome": request.query_params.get("welcome") == "1",
        },
    )


@router.post(
    "/account/password",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("write", key=by_reader)],
)
def change_password(
    request: Request,
    user: SignedIn,
    current: str = Form(""),
    new: str = Form(""),
) -> Response:
    try:
        accounts.change_password(
            request.app.state.db,
            request.app.state.settings,
            user=user,
            current=current,
            new=new,
            keep=request.cookies.get(auth.SESSION_COOKIE),
        )
    except (InvalidInput, NotAllowed) as exc:
        return _message(request, "Password not changed", str(exc), status=400)
    return _message(
        request,
        "Password changed",
        "Other devices have been signed out and every API token was revoked: create new ones "
        "on the tokens page.",
    )


@router.post(
    "/account/delete",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("write", key=by_reader)],
)
def delete_account(request: Request, user: SignedIn, password: str = Form("")):
    try:
        accounts.delete_account(request.app.state.db, user=user, password=password)
    except NotAllowed as exc:
        return _message(request, "Account not deleted", str(exc), status=400)
    response = _message(
        request, "Account deleted", "Your account is gone. Your upvotes still count, anonymously."
    )
    auth.clear_session_cookie(request, response)
    return response


def login_redirect(request: Request) -> RedirectResponse:
    """Where a visitor goes when a page needs a signed-in user."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
