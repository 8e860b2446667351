"""Links in free text: the code repository and project page a paper's abstract or comment names."""

from __future__ import annotations

import re

_URL = re.compile(
    r"(?:https?://|(?<![\w.@/])(?=(?:www\.)?(?:github\.com|gitlab\.com)/))[^\s<>\"'{}\\]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\"»”’"
_REPO_HOSTS = ("github.com", "gitlab.com")
_NEVER_PROJECT = ("arxiv.org", "doi.org", "creativecommons.org", "dx.doi.org")
_PROJECT_WORDS = re.compile(r"(project|page|website|homepage|demo|site)\W*$", re.IGNORECASE)


def _clean(url: str) -> str:
    # Papers end sentences and parentheticals right after a URL: strip what cannot end one.
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    if not re.match(r"https?://", url, re.IGNORECASE):
        url = "https://" + url
    return url


def _repo_root(url: str) -> str | None:
    m = re.match(r"https?://(?:www\.)?(github\.com|gitlab\.com)/(.+)", url, re.IGNORECASE)
    if not m:
        return None
    host = m[1].lower()
    parts = [p for p in re.split(r"[/?#]", m[2]) if p]
    if host == "github.com":
        if len(parts) < 2:
            return None
        parts = parts[:2]
    else:  # GitLab allows subgroups; the repository ends where "/-/" begins
        parts = parts[: parts.index("-")] if "-" in parts else parts
        if len(parts) < 2:
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
            host = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE).split("/")[0].lower()
            repo = _repo_root(url)
            if repo:
                code = code or repo
                continue
            if host in _REPO_HOSTS or any(host.endswith(h) for h in _NEVER_PROJECT):
                continue
            before = text[max(0, m.start() - 40) : m.start()]
            if project is None and (host.endswith(".github.io") or _PROJECT_WORDS.search(before)):
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
