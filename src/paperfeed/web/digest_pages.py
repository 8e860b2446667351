"""Digest pages and API: subscribe, confirm, preferences, unsubscribe (RFC 8058), preview.

Preferences and unsubscribe links carry a signed token instead of a login, so they work from
any mail client; the forms on those pages still carry this browser's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed import digests, subscriptions
from paperfeed.addresses import echo
from paperfeed.errors import InvalidInput, NotAllowed
from paperfeed.models import Preferences, Subscription
from paperfeed.web.api import paper_json
from paperfeed.web.guards import CSRF, DB, Config, Reader, by_ip, limit
from paperfeed.web.render import render
from paperfeed.web.schemas import DigestOut, SubscribeOut, SubscriptionOut

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/digest", tags=["digests"])


def _int(value: str | int, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number") from None


def form_prefs(
    cadence: str,
    weekday: str,
    send_hour: str,
    timezone: str,
    max_papers: str,
    categories: str,
    topics: str,
) -> Preferences:
    """Preferences from form fields (checked later by the service)."""
    return Preferences(
        cadence=cadence.strip(),
        weekday=_int(weekday, "weekday"),
        send_hour=_int(send_hour, "send hour"),
        timezone=timezone,
        max_papers=_int(max_papers, "papers per section"),
        categories=subscriptions.split_categories(categories),
        topics=subscriptions.split_topics(topics),
    )


class PrefsForm:
    """The preference fields the subscribe and preferences forms share, read once."""

    def __init__(
        self,
        cadence: str = Form("daily"),
        weekday: str = Form("0"),
        send_hour: str = Form("7"),
        timezone: str = Form("UTC"),
        max_papers: str = Form("10"),
        categories: str = Form(""),
        topics: str = Form(""),
    ) -> None:
        self.fields = (cadence, weekday, send_hour, timezone, max_papers, categories, topics)

    def prefs(self) -> Preferences:
        """The submitted preferences; InvalidInput for a field that is not a number."""
        return form_prefs(*self.fields)

    def as_typed(self) -> Preferences:
        """What was typed, to show back in the form that refused it."""
        cadence, _weekday, _hour, timezone, _max, categories, topics = self.fields
        return Preferences(
            cadence=cadence,
            timezone=timezone,
            categories=subscriptions.split_categories(categories),
            topics=subscriptions.split_topics(topics),
        )


PrefsFields = Annotated[PrefsForm, Depends()]


def _page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    context.setdefault("defaults", Preferences())
    context.update(
        weekdays=subscriptions.WEEKDAYS, max_papers=subscriptions.MAX_PAPERS, timezones=_timezones()
    )
    return render(request, template, context, status=status)


def _message(request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
    return render(request, "message.html", {"title": title, "text": text}, status=status)


def _bad_link(request: Request, exc: NotAllowed) -> HTMLResponse:
    return _message(request, "That link does not work", str(exc), status=400)


def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _manage_context(request: Request, sub: Subscription) -> dict:
    settings = request.app.state.settings
    now = dt.datetime.now(dt.UTC)
    return {
        "sub": sub,
        "prefs": sub.prefs,
        "token": subscriptions.manage_token(settings, sub),
        "links": subscriptions.links(settings, sub),
        "sends": subscriptions.sends(request.app.state.db, sub),
        "next_at": digests.next_slot(sub.prefs, now) if sub.status == "active" else None,
        "pause_after": settings.digest_pause_after,
    }


# --- pages ----------------------------------------------------------------------------------


@router.get("/digest", response_class=HTMLResponse)
def subscribe_page(request: Request, email: str = Query("")) -> HTMLResponse:
    return _page(request, "digest_subscribe.html", email=echo(email), prefs=Preferences())


@router.post(
    "/digest/subscribe",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("subscribe", key=by_ip)],  # the service counts the address
)
def subscribe(
    request: Request,
    user: Reader,
    settings: Config,
    db: DB,
    background: BackgroundTasks,
    form: PrefsFields,
    email: str = Form(""),
) -> HTMLResponse:
    try:
        prefs = form.prefs()
        answer = subscriptions.subscribe(
            db,
            settings,
            email=email,
            prefs=prefs,
            user_id=user.id if user else None,
            defer=background.add_task,
        )
    except InvalidInput as exc:
        return _page(
            request,
            "digest_subscribe.html",
            400,
            error=str(exc),
            email=echo(email),
            prefs=form.as_typed(),
        )
    return _message(request, "Check your inbox", answer)


@router.get("/digest/confirm", response_class=HTMLResponse)
def confirm(request: Request, token: str = Query("")) -> Response:
    settings, db = request.app.state.settings, request.app.state.db
    try:
        sub = subscriptions.confirm(db, settings, token)
    except NotAllowed as exc:
        return _bad_link(request, exc)
    manage = subscriptions.manage_token(settings, sub)
    return RedirectResponse(f"/digest/preferences?token={manage}&confirmed=1", status_code=303)


@router.get("/digest/preferences", response_class=HTMLResponse)
def preferences_page(request: Request, token: str = Query(""), confirmed: int = 0):
    try:
        sub = subscriptions.from_token(request.app.state.db, request.app.state.settings, token)
    except NotAllowed as exc:
        return _bad_link(request, exc)
    return _page(
        request,
        "digest_preferences.html",
        confirmed=confirmed == 1,
        **_manage_context(request, sub),
    )


@router.post(
    "/digest/preferences",
    response_class=HTMLResponse,
    dependencies=[CSRF, limit("write", key=by_ip)],
)
def save_preferences(
    request: Request,
    settings: Config,
    db: DB,
    form: PrefsFields,
    token: str = Form(""),
) -> HTMLResponse:
    try:
        sub = subscriptions.from_token(db, settings, token)
    except NotAllowed as exc:
        return _bad_link(request, exc)
    try:
        prefs = form.prefs()
        sub = subscriptions.update_preferences(db, settings, token, prefs)
    except InvalidInput as exc:
        context = _manage_context(request, sub)
        context["prefs"] = form.as_typed()
        return _page(request, "digest_preferences.html", 400, error=str(exc), **context)
    return _page(request, "digest_preferences.html", saved=True, **_manage_context(request, sub))


@router.post(
    "/digest/resume", response_class=HTMLResponse, dependencies=[CSRF, limit("write", key=by_ip)]
)
def resume(request: Request, token: str = Form("")):
    try:
        sub = subscriptions.resume(request.app.state.db, request.app.state.settings, token)
    except NotAllowed as exc:
        return _bad_link(request, exc)
    return _page(request, "digest_preferences.html", resumed=True, **_manage_context(request, sub))


@router.get("/digest/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str = Query("")) -> HTMLResponse:
    # A GET only asks: mail scanners open every link in a message, and must not unsubscribe.
    try:
        sub = subscriptions.from_token(request.app.state.db, request.app.state.settings, token)
    except NotAllowed as exc:
        return _bad_link(request, exc)
    return _page(request, "digest_unsubscribe.html", sub=sub, token=token)


@router.post(
    "/digest/unsubscribe", response_class=HTMLResponse, dependencies=[limit("write", key=by_ip)]
)
def unsubscribe(request: Request, token: str = Query("")) -> HTMLResponse:
    """One click (RFC 8058): mail providers POST `List-Unsubscribe=One-Click` to this address
    without cookies, so the signed token, not a CSRF token, is what authorises it: without a
    valid one the answer is 403, like any refused form."""
    sub = subscriptions.unsubscribe(request.app.state.db, request.app.state.settings, token)
    return _page(request, "digest_unsubscribe.html", sub=sub, token=token, done=True)


@router.get(
    "/digest/preview", response_class=HTMLResponse, dependencies=[limit("preview", key=by_ip)]
)
def preview_page(
    request: Request,
    token: str = Query(""),
    cadence: str = Query("daily"),
    max_papers: str = Query("10"),
    categories: str = Query(""),
    topics: str = Query(""),
) -> HTMLResponse:
    try:
        prefs = _preview_prefs(request, token, cadence, max_papers, categories, topics)
        digest = digests.preview(request.app.state.db, request.app.state.settings, prefs)
    except NotAllowed as exc:
        return _bad_link(request, exc)
    except InvalidInput as exc:
        return _page(
            request,
            "digest_preview.html",
            400,
            error=str(exc),
            digest=None,
            prefs=Preferences(
                cadence=cadence,
                categories=subscriptions.split_categories(categories),
                topics=subscriptions.split_topics(topics),
            ),
        )
    return _page(request, "digest_preview.html", digest=digest, prefs=digest.prefs, token=token)


def _preview_prefs(request, token, cadence, max_papers, categories, topics) -> Preferences:
    if token:
        return subscriptions.from_token(
            request.app.state.db, request.app.state.settings, token
        ).prefs
    return Preferences(
        cadence=cadence,
        max_papers=_int(max_papers, "papers per section"),
        categories=categories,
        topics=topics,
    )


# --- API ------------------------------------------------------------------------------------


class PreferencesBody(BaseModel):
    """A digest's preferences; every field has a default."""

    cadence: str = Field("daily", description="daily or weekly")
    weekday: int = Field(0, description="Weekly digests: 0 = Monday ... 6 = Sunday")
    send_hour: int = Field(7, description="Hour of the day, 0-23, in `timezone`")
    timezone: str = Field("UTC", description="IANA name, e.g. Europe/Paris")
    max_papers: int = Field(10, description=f"Papers per section, 1-{subscriptions.MAX_PAPERS}")
    categories: list[str] = Field(default_factory=list, description="arXiv categories; empty: all")
    topics: list[str] = Field(default_factory=list, description='Saved searches, e.g. author:"X"')

    def prefs(self) -> Preferences:
        return Preferences(**self.model_dump(exclude={"email"}))


class SubscribeBody(PreferencesBody):
    """An address and the preferences its digest should have."""

    email: str = Field(..., description="Where to send the digest (a confirmation comes first)")


def _prefs_json(prefs: Preferences) -> dict:
    return {
        "cadence": prefs.cadence,
        "weekday": prefs.weekday,
        "send_hour": prefs.send_hour,
        "timezone": prefs.timezone,
        "max_papers": prefs.max_papers,
        "categories": prefs.categories,
        "topics": prefs.topics,
    }


def _subscription_json(request: Request, sub: Subscription) -> dict:
    now = dt.datetime.now(dt.UTC)
    return {
        "email": sub.email,
        "status": sub.status,
        "paused_reason": sub.paused_reason,
        "failures": sub.failures,
        "preferences": _prefs_json(sub.prefs),
        "next_digest_at": digests.next_slot(sub.prefs, now).isoformat()
        if sub.status == "active"
        else None,
        "links": subscriptions.links(request.app.state.settings, sub),
    }


def _digest_json(request: Request, digest: digests.Digest) -> dict:
    base = request.app.state.settings.base_url
    return {
        "preferences": _prefs_json(digest.prefs),
        "since": digest.since.isoformat() if digest.since else None,
        "until": digest.until.isoformat() if digest.until else None,
        "sections": [
            {
                "title": s.title,
                "topic": s.topic,
                "link": s.link,
                "papers": [paper_json(p, base) for p in s.papers],
            }
            for s in digest.sections
        ],
    }


@api_router.post(
    "/subscribe",
    summary="Subscribe to the digest",
    status_code=202,
    response_model=SubscribeOut,
    # the service counts the normalised address; the route counts the client
    dependencies=[limit("subscribe", key=by_ip)],
)
def api_subscribe(
    body: SubscribeBody, settings: Config, db: DB, background: BackgroundTasks
) -> JSONResponse:
    """Mail a confirmation link; the answer is the same for known and unknown addresses."""
    answer = subscriptions.subscribe(
        db, settings, email=body.email, prefs=body.prefs(), defer=background.add_task
    )
    return JSONResponse({"status": "confirmation_sent", "message": answer}, status_code=202)


@api_router.get(
    "/preferences", summary="A subscription and its preferences", response_model=SubscriptionOut
)
def api_preferences(request: Request, token: str = Query(..., description="From a digest link")):
    """The subscription a signed link names."""
    sub = subscriptions.from_token(request.app.state.db, request.app.state.settings, token)
    return _subscription_json(request, sub)


@api_router.put(
    "/preferences",
    summary="Change a subscription's preferences",
    dependencies=[limit("write", key=by_ip)],
    response_model=SubscriptionOut,
)
def api_update_preferences(
    request: Request,
    body: PreferencesBody,
    token: str = Query(..., description="From a digest link"),
) -> dict:
    """Replace the preferences of the subscription a signed link names."""
    sub = subscriptions.update_preferences(
        request.app.state.db, request.app.state.settings, token, body.prefs()
    )
    return _subscription_json(request, sub)


@api_router.post(
    "/unsubscribe",
    summary="Unsubscribe",
    dependencies=[limit("write", key=by_ip)],
    response_model=SubscriptionOut,
)
def api_unsubscribe(request: Request, token: str = Query(..., description="From a digest link")):
    """Stop the digests of the subscription a signed link names."""
    sub = subscriptions.unsubscribe(request.app.state.db, request.app.state.settings, token)
    return _subscription_json(request, sub)


@api_router.get(
    "/preview",
    summary="What a digest would contain now",
    dependencies=[limit("preview", key=by_ip)],
    response_model=DigestOut,
)
def api_preview(
    request: Request,
    token: str = Query("", description="A subscription's link token (else the fields below)"),
    cadence: str = Query("daily", description="daily or weekly"),
    max_papers: str = Query("10", description="Papers per section"),
    categories: str = Query("", description="Comma-separated arXiv categories"),
    topics: str = Query("", description="Saved searches, one per line"),
) -> dict:
    """Today's digest for these preferences: trending, then each topic's new matches."""
    prefs = _preview_prefs(request, token, cadence, max_papers, categories, topics)
    return _digest_json(
        request, digests.preview(request.app.state.db, request.app.state.settings, prefs)
    )


@api_router.get(
    "/timezones", summary="Time zone names accepted in preferences", response_model=list[str]
)
def api_timezones() -> list[str]:
    """Every IANA time zone name this server knows."""
    return _timezones()
