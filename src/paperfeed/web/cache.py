"""The response cache: listing pages and API answers, kept until the catalogue changes.

Each cached answer remembers the catalogue version it was made from; one indexed read of that
version per request tells every worker, on any database, whether its copy is still current.
The same version gives the ETag, so browsers and feed readers can revalidate with a 304.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from paperfeed import feeds
from paperfeed.web import auth


class Lru:
    """A thread-safe LRU of values by key; size 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def get_many(self, keys: list) -> list:
        """The values of these keys (None where missing), under one lock."""
        with self._lock:
            found = [self._items.get(k) for k in keys]
            for k, v in zip(keys, found, strict=True):
                if v is not None:
                    self._items.move_to_end(k)
        return found

    def put(self, key: Hashable, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class ResponseCache:
    """(body, media type) by request URL, each kept with the catalogue version it was made from."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items = Lru(size)

    def get(self, key: str, version: int) -> tuple[bytes, str] | None:
        item = self._items.get(key)
        if item is None or item[0] != version:
            return None
        return item[1], item[2]

    def put(self, key: str, version: int, body: bytes, media_type: str) -> None:
        self._items.put(key, (version, body, media_type))


def cached(endpoint: Callable) -> Callable:
    """Serve a GET endpoint from the cache while the catalogue is unchanged; add ETags."""

    @functools.wraps(endpoint)
    def wrapper(request: Request, *args, **kwargs):
        stamp = feeds.catalog_stamp(request.app.state.db)
        request.state.catalog_stamp = stamp  # for pages built from cached cards
        if auth.user(request) is not None:
            return endpoint(request, *args, **kwargs)  # personal pages are never shared
        cache: ResponseCache = request.app.state.response_cache
        version, changed = stamp.version, stamp.changed
        # Today is part of the key: "latest day" and "next" links move at midnight.
        key = f"{feeds.today()}:{request.url.path}?{request.url.query}"
        etag = f'W/"{version}-{zlib.crc32(key.encode()):08x}"'
        headers = {
            "ETag": etag,
            "Last-Modified": email.utils.format_datetime(
                changed.replace(microsecond=0), usegmt=True
            ),
            "Cache-Control": "no-cache",
        }
        if not_modified(request, etag, changed):
            return Response(status_code=304, headers=headers)
        hit = cache.get(key, version)
        if hit is None:
            result = endpoint(request, *args, **kwargs)
            if not isinstance(result, Response):
                result = json_response(result)
            if result.status_code != 200:
                return result
            hit = (bytes(result.body), result.media_type or "application/octet-stream")
            cache.put(key, version, *hit)
        return Response(content=hit[0], media_type=hit[1], headers=headers)

    return wrapper


def json_response(result: object) -> Response:
    """The endpoint's answer as JSON. Our API builds plain dicts already (see web/api.py), so
    they are encoded as they are, as JSONResponse would; FastAPI's jsonable_encoder, which
    re-walks every value and was a third of an uncached answer, is only the fallback."""
    try:
        body = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return JSONResponse(jsonable_encoder(result))
    return Response(content=body.encode(), media_type="application/json")


def not_modified(request: Request, etag: str, changed: dt.datetime) -> bool:
    """Whether the client's copy is current: If-None-Match wins; else If-Modified-Since."""
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag in [t.strip() for t in match.split(",")] or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when is None or when.tzinfo is None:
        return False
    return changed.replace(microsecond=0) <= when
