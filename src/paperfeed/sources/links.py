"""Links: a paper's code repository and project page, as sources give them or its abstract or
comment names them, and the one test of whether a link may be shown as a link at all."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MAX_URL = 2048
# Anything a browser, mail reader or terminal could read as more than a plain web address.
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\<>\"'`]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.?$")

# A URL with a scheme, or a bare one on a host papers often write without it.
_BARE_HOSTS = (
    r"(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)/"
    r"|[\w-]+\.github\.io\b"
)
_URL = re.compile(
    rf"(?:https?://|(?<![\w.@/])(?=(?:{_BARE_HOSTS})))[^\s<>\"'{{}}\\|^`]+", re.IGNORECASE
)
_TRAILING = ".,;:!?)]}'\"»”’*"
# owner/repo hosts; GitLab also nests groups, so its repository ends where "/-/" begins.
_OWNER_REPO_HOSTS = ("github.com", "bitbucket.org", "codeberg.org")
_REPO_HOSTS = (*_OWNER_REPO_HOSTS, "gitlab.com", "anonymous.4open.science")
# github.com/<these>/... are GitHub's own pages, not repositories.
_NOT_OWNERS = frozenset(
    {
        "about",
        "apps",
        "collections",
        "enterprise",
        "explore",
        "features",
        "login",
        "marketplace",
        "orgs",
        "pricing",
        "settings",
        "site",
        "sponsors",
        "topics",
        "trending",
        "users",
    }
)
_PROJECT_HOSTS = (".github.io", ".gitlab.io", "sites.google.com")
_NEVER_PROJECT = ("arxiv.org", "doi.org", "creativecommons.org")
# A word naming a page, then only linking words up to the URL: "project page is available at".
_PROJECT_WORDS = re.compile(
    r"\b(?:project|page|webpage|website|homepage|demo|demos|site)\W*"
    r"(?:(?:is|are|can|be|found|available|publicly|online|accessible|hosted|at|on|in|here|"
    r"via|see|visit)\W+)*$",
    re.IGNORECASE,
)


def _clean(url: str) -> str:
    # Papers end sentences and parentheticals right after a URL: strip what cannot end one,
    # but keep a closing parenthesis the URL itself opened (Wikipedia-style paths).
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    if not re.match(r"https?://", url, re.IGNORECASE):
        url = "https://" + url
    return url


def _host(url: str) -> str:
    return re.sub(r"^https?://(?:www\.)?", "", url, flags=re.IGNORECASE).split("/")[0].lower()


def _repo_root(url: str, host: str) -> str | None:
    path = re.sub(r"^https?://[^/]+", "", url, flags=re.IGNORECASE)
    parts = [p for p in re.split(r"[/?#]", path) if p]
    if host in _OWNER_REPO_HOSTS:
        if len(parts) < 2 or parts[0].lower() in _NOT_OWNERS:
            return None
        parts = parts[:2]
    elif host == "gitlab.com":
        parts = parts[: parts.index("-")] if "-" in parts else parts
        if len(parts) < 2:
            return None
    elif host == "anonymous.4open.science":  # anonymised repositories for double-blind review
        if len(parts) < 2 or parts[0] != "r":
            return None
        parts = parts[:2]
    else:
        return None
    if parts[-1].lower().endswith(".git"):
        parts[-1] = parts[-1][:-4]
    return f"https://{host}/" + "/".join(parts)


def _may_hold_url(text: str) -> bool:
    # Every URL `_URL` can match holds one of these words. Four abstracts in five hold none, and
    # these substring tests cost a twentieth of the case-insensitive regex's scan (which tries
    # its look-arounds at every position), measured on 10,000 real abstracts.
    lowered = text.lower()
    return (
        "http" in lowered
        or "github" in lowered
        or "gitlab" in lowered
        or "bitbucket" in lowered
        or "codeberg" in lowered
    )


def url_problem(url: str) -> str | None:
    """Why `url` may not become a link (None when it may): only absolute http and https URLs,
    with a host, no credentials and nothing a page, mail or terminal could misread."""
    if len(url) > MAX_URL:
        return f"longer than {MAX_URL} characters"
    if _NOT_IN_URL.search(url):
        return "contains spaces, quotes, angle brackets, backslashes or control characters"
    scheme = _SCHEME.match(url)
    if scheme is None:
        return "not an absolute URL"
    if scheme[0].lower() not in ("http:", "https:"):
        return f"scheme {scheme[0][:-1][:20]!r} is not http or https"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if not url[len(scheme[0]) :].startswith("//") or not parts.hostname:
        return "has no host"
    if "@" in parts.netloc:
        return "carries a user name or password"
    if not _HOST.match(parts.hostname):
        return "host is not a host name"
    return None


def safe_url(value: object) -> str | None:
    """`value` if it may be rendered as a link (see url_problem), else None.

    The one check every rendering makes (pages, mail, feeds, the API, the command line), so a
    link stored before ingest checked links, or by any other path, still never becomes a
    javascript: or data: href.
    """
    if not isinstance(value, str) or not value or url_problem(value) is not None:
        return None
    return value


def source_link(value: object, *, field: str, paper: str) -> str | None:
    """A link a source gave in `field`, as a URL to store, or None (logging why) if it is not one.

    A bare "github.com/owner/repo" gets https://; anything else without http or https is refused.
    Whitespace inside is dropped: a link field holds one URL, and real ones arrive line-wrapped.
    """
    if not isinstance(value, str):
        return None
    url = "".join(value.split())
    if not url:
        return None
    if _SCHEME.match(url) is None and _HOST.match(url.split("/", 1)[0]) and "." in url:
        url = "https://" + url
    problem = url_problem(url)
    if problem is not None:
        log.warning("%s: %s link refused: %s (%r)", paper, field, problem, value[:80])
        return None
    return url


def find_links(*texts: str | None) -> tuple[str | None, str | None]:
    """(code repository URL, project page URL) named in the texts, or None for each."""
    code = project = None
    for text in texts:
        if not text:
            continue
        if not _may_hold_url(text):
            continue
        for m in _URL.finditer(text):
            url = _clean(m.group(0))
            if url_problem(url) is not None:
                continue
            host = _host(url)
            if host in _REPO_HOSTS:
                code = code or _repo_root(url, host)
                continue
            if project is not None or any(
                host == h or host.endswith("." + h) for h in _NEVER_PROJECT
            ):
                continue
            before = text[max(0, m.start() - 60) : m.start()]
            if host.endswith(_PROJECT_HOSTS) or _PROJECT_WORDS.search(before):
                project = url
    return code, project


def complete_links(
    code: str | None, project: str | None, *texts: str | None
) -> tuple[str | None, str | None]:
    """The links a source gave, with any it did not give found in the texts."""
    if code and project:
        return code, project
    found_code, found_project = find_links(*texts)
    return code or found_code, project or found_project
