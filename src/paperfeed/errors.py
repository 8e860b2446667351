"""The exception hierarchy: one class per condition a caller may want to handle."""


class PaperfeedError(Exception):
    """Base of every error paperfeed raises on purpose."""


class NotFound(PaperfeedError):
    """The thing asked for does not exist (an unknown arXiv id, an unknown run)."""


class InvalidInput(PaperfeedError):
    """A value from a user or a file does not have the expected shape."""


class Conflict(PaperfeedError):
    """The change collides with what exists (an email already registered)."""


class NotAllowed(PaperfeedError):
    """The caller may not do this: not signed in, not the owner, not an admin, bad CSRF token."""


class RateLimited(PaperfeedError):
    """Too many attempts; `retry_after` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(PaperfeedError):
    """The database cannot do this now: a statement cancelled by the timeout ("timeout"), a
    lock held past lock_timeout ("locked"), a full disk ("full"), a read-only file
    ("read_only") or no connection ("unreachable"); `retry_after` says when to try again."""

    def __init__(self, message: str, *, kind: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class MalformedFeed(PaperfeedError):
    """A fetched or read document cannot be parsed: truncated, not UTF-8, an error page."""


class SourceUnavailable(PaperfeedError):
    """A remote source kept failing after the allowed retries."""


class SchemaOutdated(PaperfeedError):
    """The database schema is behind the code; `paperfeed db upgrade` fixes it."""


class ConfigError(PaperfeedError):
    """A setting is missing, malformed or unsafe for the chosen environment."""


class IndexCorrupt(PaperfeedError):
    """The vector index on disk is missing, damaged or from another model; rebuild it."""
