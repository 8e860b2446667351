"""Small parsers: arXiv ids, code and project links in free text, and the listing-day schedule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from paperfeed.errors import InvalidInput
from paperfeed.sources.arxiv_ids import is_arxiv_id, parse_arxiv_id
from paperfeed.sources.links import complete_links, find_links
from paperfeed.sources.schedule import listing_day


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2511.01234", ("2511.01234", None)),
        ("2511.01234v3", ("2511.01234", 3)),
        ("0704.0001", ("0704.0001", None)),
        ("arXiv:2511.01234", ("2511.01234", None)),
        (" https://arxiv.org/abs/2511.01234v2 ", ("2511.01234", 2)),
        ("http://arxiv.org/pdf/2511.01234v1.pdf", ("2511.01234", 1)),
        ("https://export.arxiv.org/abs/2511.01234", ("2511.01234", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("http://arxiv.org/abs/hep-th/9901001v1", ("hep-th/9901001", 1)),
    ],
)
def test_arxiv_ids_in_the_forms_people_paste(text, expected):
    """New and old ids, versions, the arXiv: prefix and abs/pdf URLs give (id, version)."""
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1234",
        "2511.123",
        "2511.012345",
        "https://example.org/abs/2511.01234",
        "2511.01234; DROP TABLE papers",
        "<script>",
        "9" * 500,
        "2511.01234v",
    ],
)
def test_not_arxiv_ids(text):
    """Near misses and junk are refused, and the message lists the accepted forms."""
    assert not is_arxiv_id(text)
    with pytest.raises(InvalidInput, match="expected 2511.01234"):
        parse_arxiv_id(text)


@pytest.mark.parametrize(
    "text, code, project",
    [
        ("Code is available at https://github.com/org/repo.", "https://github.com/org/repo", None),
        ("Code: https://github.com/org/repo/tree/main/src.", "https://github.com/org/repo", None),
        ("(see https://github.com/Org/Repo-2.git)", "https://github.com/Org/Repo-2", None),
        ("Our code (github.com/org/repo) is public.", "https://github.com/org/repo", None),
        ("available at github.com/org/repo, and", "https://github.com/org/repo", None),
        ("http://www.github.com/org/repo/blob/main/README.md", "https://github.com/org/repo", None),
        ("Code: HTTP://GitHub.com/Org/Repo#readme", "https://github.com/Org/Repo", None),
        ("Code at \\url{https://github.com/org/repo}.", "https://github.com/org/repo", None),
        ("Code at [repo](https://github.com/a/b).", "https://github.com/a/b", None),
        ("\u201chttps://github.com/org/repo.git\u201d", "https://github.com/org/repo", None),
        (
            "Models: https://gitlab.com/group/sub/repo/-/tree/main;",
            "https://gitlab.com/group/sub/repo",
            None,
        ),
        ("https://gitlab.com/group/sub/repo,", "https://gitlab.com/group/sub/repo", None),
        (
            "Code: https://anonymous.4open.science/r/tab-9F3C/README.md",
            "https://anonymous.4open.science/r/tab-9F3C",
            None,
        ),
        ("Project page: https://example.org/proj/.", None, "https://example.org/proj/"),
        ("Project page: https://x.github.io/proj/", None, "https://x.github.io/proj/"),
        ("The project page is available at https://foo.org/bar.", None, "https://foo.org/bar"),
        (
            "Demo can be found at https://huggingface.co/spaces/a/b",
            None,
            "https://huggingface.co/spaces/a/b",
        ),
        ("Videos at https://team.github.io/demo/", None, "https://team.github.io/demo/"),
        ("More results at mylab.github.io/proj.", None, "https://mylab.github.io/proj"),
        ("Website (https://lab.example.edu/x)", None, "https://lab.example.edu/x"),
        (
            "Code https://github.com/a/b and project page https://a.github.io/b",
            "https://github.com/a/b",
            "https://a.github.io/b",
        ),
        # These must find nothing.
        ("See https://github.com/org only", None, None),
        ("see https://github.com/features/copilot for more", None, None),
        ("Published at https://doi.org/10.1/x and arXiv https://arxiv.org/abs/1", None, None),
        ("Our website https://arxiv.org/abs/2511.01234", None, None),
        ("We use https://pytorch.org for training.", None, None),
        ("The project was funded by https://erc.europa.eu.", None, None),
        ("An email: someone@github.com wrote", None, None),
        ("No links at all.", None, None),
        ("Licence https://creativecommons.org/licenses/by/4.0/ website", None, None),
    ],
)
def test_code_and_project_links(text, code, project):
    """Links as abstracts and comments write them, including ones that must yield nothing."""
    assert find_links(text) == (code, project)


def test_links_from_several_fields_first_wins():
    """The first text naming a repository wins; empty and None texts are skipped."""
    assert find_links(None, "", "x https://github.com/a/b", "https://github.com/c/d") == (
        "https://github.com/a/b",
        None,
    )


def test_complete_links_keeps_what_the_source_gave():
    """A source's own link is kept; only a missing one is looked for in the text."""
    text = "Code: https://github.com/x/y. Project page: https://x.github.io/y"
    assert complete_links("https://github.com/a/b", None, text) == (
        "https://github.com/a/b",
        "https://x.github.io/y",
    )


ET = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "when, listed",
    [
        (
            dt.datetime(2025, 11, 17, 13, 59, tzinfo=ET),
            dt.date(2025, 11, 18),
        ),  # Mon before cutoff: Tue
        (dt.datetime(2025, 11, 17, 14, 0, tzinfo=ET), dt.date(2025, 11, 19)),  # Mon at cutoff: Wed
        (dt.datetime(2025, 11, 17, 14, 1, tzinfo=ET), dt.date(2025, 11, 19)),  # Mon after: Wed
        (dt.datetime(2025, 11, 20, 13, 0, tzinfo=ET), dt.date(2025, 11, 21)),  # Thu before: Fri
        (dt.datetime(2025, 11, 20, 14, 1, tzinfo=ET), dt.date(2025, 11, 24)),  # Thu after: Mon
        (dt.datetime(2025, 11, 21, 10, 0, tzinfo=ET), dt.date(2025, 11, 24)),  # Fri before: Mon
        (dt.datetime(2025, 11, 21, 15, 0, tzinfo=ET), dt.date(2025, 11, 25)),  # Fri after: Tue
        (dt.datetime(2025, 11, 22, 12, 0, tzinfo=ET), dt.date(2025, 11, 25)),  # Saturday: Tue
        (dt.datetime(2025, 11, 23, 21, 0, tzinfo=ET), dt.date(2025, 11, 25)),  # Sunday: Tue
        (dt.datetime(2025, 11, 18, 3, 0, tzinfo=dt.UTC), dt.date(2025, 11, 19)),  # Mon 22:00 ET
        (dt.datetime(2025, 11, 17, 18, 30, tzinfo=dt.UTC), dt.date(2025, 11, 18)),  # 13:30 EST
        (dt.datetime(2025, 3, 10, 17, 30), dt.date(2025, 3, 11)),  # naive = UTC; EDT: 13:30
        (dt.datetime(2025, 3, 10, 18, 30), dt.date(2025, 3, 12)),  # naive = UTC; EDT: 14:30
    ],
)
def test_listing_day_follows_arxiv_schedule(when, listed):
    """Cutoff 14:00 ET Mon-Fri, announced 20:00 ET Sun-Thu, dated (as arXiv does) the next day."""
    assert listing_day(when) == listed
    assert listing_day(when).weekday() < 5  # arXiv's listings are dated Monday to Friday
