"""Log records: plain text or one JSON object per line, each carrying the request id it belongs to.

The request id lives in a context variable the web layer sets per request, so any log line
written while serving that request (by paperfeed, SQLAlchemy or uvicorn) names it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import logging.config

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (or '-') to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
            "pid": record.process,  # which worker, when several serve
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def dict_config(level: str, fmt: str) -> dict:
    """A logging.config.dictConfig for `level` and `fmt` (text or json), uvicorn's loggers too."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    formatter = {"()": "paperfeed.logs.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "main",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    # uvicorn's own access line lacks the request id; paperfeed.access writes a richer one.
    quiet = {"level": "WARNING", "handlers": ["main"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "paperfeed.logs.RequestIdFilter"}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"level": level.upper(), "handlers": ["main"]},
        "loggers": {
            "uvicorn": {"level": level.upper(), "handlers": ["main"], "propagate": False},
            "uvicorn.error": {"level": level.upper(), "handlers": ["main"], "propagate": False},
            "uvicorn.access": quiet,
            "alembic": {"level": "WARNING"},
        },
    }


def configure(level: str, fmt: str) -> None:
    """Send this process's logs to stderr at `level`, as text or JSON."""
    logging.config.dictConfig(dict_config(level, fmt))
