"""Links in free text: the code repository and project page a paper's abstract or comment names."""

from __future__ import annotations

import re

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


def find_links(*texts: str | None) -> tuple[str | None, str | None]:
    """(code repository URL, project page URL) named in the texts, or None for each."""
    code = project = None
    for text in texts:
        if not text:
            continue
        for m in _URL.finditer(text):
            url = _clean(m.group(0))
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
