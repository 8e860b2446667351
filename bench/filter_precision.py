"""Filter precision: author, phrase, category, date, code and hidden-paper filters in keyword,
semantic and hybrid mode; every hit is checked against the paper's own metadata by this script
(not by the database), so precision must be 100% in every mode. Bad filters (unknown author or
category, `author:` with no name, a date range ending before it starts) must find nothing and
say why.

The corpus is bench/known_item.py's (47 seed papers among the first 3,000 real arXiv papers),
fully embedded; it is shared with bench/partial_embedding.py through --db. Queries are drawn
from the corpus (seeded): its most prolific authors with words of one of their titles, the most
common two-word title phrases, the commonest and some rare categories, windows of listing days.

    python bench/filter_precision.py [--db /tmp/paperfeed-bench-ki.db] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import random
import re
import sys
import tempfile
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from known_item import SHARED  # noqa: E402 - a sibling script
from paperfeed import search  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.search import indexing  # noqa: E402
from paperfeed.search.query import STOPWORDS  # noqa: E402
from paperfeed.store import papers  # noqa: E402
from partial_embedding import build, cpu  # noqa: E402

MODES = ("keyword", "semantic", "hybrid")
LIMIT = 50
_WORD = re.compile(r"[^\W_]+")


def plain(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text)
    return _WORD.findall("".join(c for c in text if not unicodedata.combining(c)).casefold())


def same_word(a: str, b: str) -> bool:
    """Equal up to an English suffix (the engines stem; this check is deliberately simple)."""
    if a == b:
        return True
    n = min(len(a), len(b))
    return n >= 4 and a[: max(4, n - 3)] == b[: max(4, n - 3)]


def has_phrase(paper, phrase: list[str]) -> bool:
    for text in (paper.title, paper.abstract):
        words = plain(text)
        for i in range(len(words) - len(phrase) + 1):
            if all(same_word(words[i + j], w) for j, w in enumerate(phrase)):
                return True
    return False


def has_author(paper, name: str) -> bool:
    wanted = plain(name)
    for author in paper.authors:
        have = plain(author)
        if not have:
            continue
        if len(wanted) == 1 and have[-1] == wanted[0]:
            return True
        if have == wanted:
            return True
    return False


def topic(paper, rng: random.Random, n: int = 2) -> str:
    words = [w for w in plain(paper.title) if w not in STOPWORDS and len(w) > 3]
    return " ".join(rng.sample(words, min(n, len(words))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/paperfeed-bench-ki.db"))
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if not (SHARED / "seed-page").exists():
        sys.exit(f"missing {SHARED}: the benchmarks read ../shared/data beside the repository")
    db, url = build(args.db)
    settings = Settings.load(
        env={}, database_url=url, index_dir=tempfile.mkdtemp(prefix="filters-")
    )
    indexing.embed_pending(db, settings)
    with db.connect() as conn:
        catalogue = {p.arxiv_id: p for p in papers.iter_all(conn)}
    rng = random.Random(7)
    arxiv = sorted((p for p in catalogue.values() if p.authors), key=lambda p: p.arxiv_id)

    cases: list[tuple[str, str, dict, object]] = []  # (kind, query, filters, check)
    by_author = collections.Counter(a for p in arxiv for a in p.authors)
    for name, _n in by_author.most_common(10):
        mine = [p for p in arxiv if name in p.authors]
        family = plain(name)[-1]
        cases.append(("author", f'author:"{name}"', {}, lambda p, n=name: has_author(p, n)))
        t = topic(rng.choice(mine), rng)
        cases.append(("author", f'{t} author:"{name}"', {}, lambda p, n=name: has_author(p, n)))
        cases.append(("author", f"{t} author:{family}", {}, lambda p, f=family: has_author(p, f)))
    bigrams = collections.Counter()
    for p in arxiv:
        words = plain(p.title)
        bigrams.update(
            (a, b)
            for a, b in zip(words, words[1:], strict=False)
            if a not in STOPWORDS and b not in STOPWORDS
        )
    phrases = [list(b) for b, _n in bigrams.most_common(10)] + [["world", "model"]]
    for ph in phrases:
        check = lambda p, ph=ph: has_phrase(p, ph)  # noqa: E731
        cases.append(("phrase", f'"{" ".join(ph)}"', {}, check))
        other = topic(rng.choice(arxiv), rng, 1)
        cases.append(("phrase", f'"{" ".join(ph)}" {other}', {}, check))
    cats = collections.Counter(c for p in arxiv for c in p.categories)
    common = [c for c, _n in cats.most_common(5)]
    rare = [c for c, n in cats.items() if 3 <= n <= 10][:5]
    for c in common + rare:
        for _ in range(2):
            q = topic(rng.choice(arxiv), rng)
            cases.append(("category", q, {"categories": [c]}, lambda p, c=c: c in p.categories))
    days = sorted({p.listing_day for p in arxiv})
    for _ in range(10):
        start = rng.choice(days)
        span = rng.choice([0, 6, 30, 365])
        end = start + dt.timedelta(days=span)
        q = topic(rng.choice(arxiv), rng)
        f = {"since": start, "until": end}
        cases.append(("date", q, f, lambda p, s=start, e=end: s <= p.listing_day <= e))
    for _ in range(5):
        q = topic(rng.choice(arxiv), rng)
        cases.append(("has code", q, {"has_code": True}, lambda p: p.code_url is not None))

    # Hidden papers: the best hit of 30 title queries, hidden, must vanish from every mode.
    probes = [" ".join(plain(p.title)[:6]) for p in rng.sample(arxiv, 30)]
    hidden = set()
    for q in probes:
        hits = search.search(db, q, mode="hybrid", limit=1, settings=settings).hits
        hidden.update(h.paper.arxiv_id for h in hits)
    with db.transaction() as conn:
        for i in hidden:
            papers.set_hidden(conn, i, True)
    for q in probes:
        cases.append(("hidden", q, {}, lambda p: p.arxiv_id not in hidden))

    rows: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    misses = []
    try:
        for kind, q, filters, check in cases:
            for mode in MODES:
                r = search.search(db, q, mode=mode, limit=LIMIT, settings=settings, **filters)
                assert r.mode == mode, (mode, r.notice)
                row = rows[(kind, mode)]
                row[0] += 1
                row[1] += len(r.hits)
                good = [h for h in r.hits if check(catalogue[h.paper.arxiv_id])]
                row[2] += len(good)
                misses += [(kind, mode, q, h.paper.arxiv_id) for h in r.hits if h not in good]
        bad = [
            ('transformers author:"Nobody Anywhere"', {}),
            ("author: transformers", {}),
            ('author:""', {}),
            ("language models", {"categories": ["xx.NOPE"]}),
            ("language models", {"since": dt.date(2025, 1, 10), "until": dt.date(2025, 1, 1)}),
        ]
        bad_rows = []
        for q, filters in bad:
            for mode in MODES:
                r = search.search(db, q, mode=mode, limit=LIMIT, settings=settings, **filters)
                bad_rows.append((q, mode, len(r.hits), r.notice))
    finally:
        with db.transaction() as conn:
            for i in hidden:
                papers.set_hidden(conn, i, False)
        db.dispose()

    print(f"\nFilter precision: {len(cases)} queries x {len(MODES)} modes, {LIMIT} results each,")
    print(f"{len(catalogue):,} papers (all embedded), SQLite; CPU {cpu()}; {dt.date.today()}\n")
    print(f"{'filter':<10}{'mode':<10}{'queries':>8}{'hits':>7}{'precision':>11}")
    total = [0, 0]
    for (kind, mode), (n, hits, good) in rows.items():
        total[0] += hits
        total[1] += good
        prec = good / hits if hits else float("nan")
        print(f"{kind:<10}{mode:<10}{n:>8}{hits:>7}{prec:>11.1%}")
    print(f"{'all':<20}{'':>8}{total[0]:>7}{total[1] / max(1, total[0]):>11.1%}")
    print("\nbad filters (hits must be 0, with a notice):")
    for q, mode, n, notice in bad_rows:
        print(f"  {q[:45]:<46}{mode:<10}{n:>3}  {notice}")
    for m in misses[:20]:
        print("MISS", *m)
    if args.json_out:
        out = {
            "rows": {f"{k}/{m}": v for (k, m), v in rows.items()},
            "bad": bad_rows,
            "misses": misses,
        }
        args.json_out.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
