"""Personal-ranking quality: the author-history protocol of issue 13 on arxiv-daily-dw.

Readers are authors with at least 5 papers listed before 2026-04-01 and at least one after (500
sampled with a fixed seed; see recommend_protocol.py). A reader's library is their papers before
the split, seen as title and abstract only (no author names, or a model only learns to find the
reader's name); each of their later papers is ranked among every paper of its listing day.
Reported: MRR and hit@10 over all targets, for

  listing      the day's listing order (arxiv id)
  sanity       arxiv-sanity-lite: TF-IDF (1-2 grams, max_df 0.1, min_df 5, sublinear tf, 20,000
               features, fitted on the papers listed before the split), LinearSVC C=0.01 with
               balanced classes; library positive, every other paper of the reader's listing
               days negative (the papers the SVM then scores, as in arxiv-sanity-lite)
  zotero       zotero-arxiv-daily: cosine of all-MiniLM-L6-v2 embeddings to each library paper,
               weighted newest first by 1/(1+log10(rank)), normalised
  ours         paperfeed.recommend: the product's own fit and score, on the same embeddings

and the ratio of our MRR to the better recipe's with a paired bootstrap interval (readers
resampled with all their targets, 2,000 resamples). Every choice in ours was made on the DEV split
(split 2026-03-01, targets listed 1-15 March: all before the test split) with `--split dev`.

The feedback test: for each reader and listing day, the topic (a k-means cluster of that day's
embeddings) most present in their top 20; the reader marks that topic's 5 best-ranked papers "not
interested"; the topic's share of the new top 20 (dismissed papers gone) must fall by at least half.

    python bench/recommend_quality.py [--split dev|test] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from paperfeed import recommend, taste

sys.path.insert(0, str(Path(__file__).parent))
import recommend_protocol as rp  # noqa: E402 - a sibling script
from benchlib import table  # noqa: E402

BOOT = 2_000


def cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def rank_of(scores: np.ndarray, index: int) -> float:
    """1-based rank of `index`; ties share the mean of their places."""
    s = scores[index]
    higher = int(np.sum(scores > s))
    ties = int(np.sum(scores == s)) - 1
    return 1 + higher + ties / 2


class Bench:
    def __init__(self, split: rp.Split, *, days: int | None = None) -> None:
        self.papers = rp.load_papers()
        self.by_id = {p["arxiv_id"]: p for p in self.papers}
        self.proto = rp.protocol(self.papers, split, days=days)
        ids = rp.needed(self.proto)
        self.vec = rp.embeddings(self.papers, ids)
        self.published = {p["arxiv_id"]: p["published"] for p in self.papers}
        self.day_of = {i: d for d, ids in self.proto.days.items() for i in ids}
        self.day_matrix = {
            d: np.stack([self.vec[i] for i in ids]) for d, ids in self.proto.days.items()
        }
        self._tfidf = None
        self._terms: dict[str, object] = {}
        self._words: dict[str, taste.Words] = {}
        self._papers: dict[str, taste.Papers] = {}
        # Newest first, as the product reads them (recent_texts).
        self.newest_first = sorted(
            self.papers, key=lambda p: (p["published"], p["arxiv_id"]), reverse=True
        )

    def terms(self, ids: list[str]):
        """paperfeed's word counts (taste.term_counts) of these papers, cached."""
        import scipy.sparse as sp

        todo = [i for i in ids if i not in self._terms]
        if todo:
            rows = taste.term_counts([rp.text(self.by_id[i]) for i in todo])
            self._terms.update((i, rows[n]) for n, i in enumerate(todo))
        if not ids:
            return taste.empty_terms()
        return sp.vstack([self._terms[i] for i in ids], format="csr")

    def words(self, day: str) -> taste.Words:
        """What the product would count on that listing day (recommend.words): word weights over
        the WORD_PAPERS papers listed last up to the day, the BACKGROUND_PAPERS newest set apart."""
        if day not in self._words:
            recent = [p["arxiv_id"] for p in self.newest_first if p["published"] <= day]
            counts = self.terms(recent[: recommend.WORD_PAPERS])
            self._words[day] = taste.Words.count(
                counts, listing=slice(0, recommend.BACKGROUND_PAPERS)
            )
        return self._words[day]

    def day_papers(self, day: str) -> taste.Papers:
        if day not in self._papers:
            self._papers[day] = taste.Papers.of(
                self.day_matrix[day], self.terms(self.proto.days[day]), self.words(day)
            )
        return self._papers[day]

    # -- data for one reader --------------------------------------------------------------
    def reader_days(self, reader: str) -> list[str]:
        return sorted({self.day_of[t] for t in self.proto.targets[reader]})

    def library(self, reader: str) -> list[str]:
        return self.proto.library[reader]

    def tfidf(self):
        """The arxiv-sanity vectoriser fitted on every paper listed before the split."""
        cached = rp.CACHE / f"tfidf-{self.proto.split.name}.pkl"
        if self._tfidf is None and cached.exists():
            import pickle

            with cached.open("rb") as fh:
                self._tfidf = pickle.load(fh)  # noqa: S301 - our own cache file
        if self._tfidf is None:
            import pickle

            from sklearn.feature_extraction.text import TfidfVectorizer

            vectoriser = TfidfVectorizer(
                input="content",
                encoding="utf-8",
                decode_error="replace",
                strip_accents="unicode",
                lowercase=True,
                analyzer="word",
                stop_words="english",
                token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
                ngram_range=(1, 2),
                max_features=20_000,
                norm="l2",
                use_idf=True,
                smooth_idf=True,
                sublinear_tf=True,
                max_df=0.1,
                min_df=5,
            )
            start = time.perf_counter()
            corpus = [p for p in self.papers if p["published"] < self.proto.split.split]
            vectoriser.fit(p["title"] + " " + p["abstract"] for p in corpus)
            print(
                f"tf-idf fitted on {len(corpus):,} papers in {time.perf_counter() - start:.0f} s",
                file=sys.stderr,
            )
            self._tfidf = vectoriser
            vectoriser.stop_words_ = None  # millions of pruned terms, needed by nothing
            with cached.open("wb") as fh:
                pickle.dump(vectoriser, fh)
        return self._tfidf

    def tfidf_rows(self, ids: list[str]):
        return self.tfidf().transform(
            self.by_id[i]["title"] + " " + self.by_id[i]["abstract"] for i in ids
        )


# -- the methods: each returns {listing day: scores in listing order} for one reader ----------
def listing(bench: Bench, reader: str) -> dict[str, np.ndarray]:
    return {
        d: -np.arange(len(bench.proto.days[d]), dtype=np.float64) for d in bench.reader_days(reader)
    }


def sanity(bench: Bench, reader: str) -> dict[str, np.ndarray]:
    from sklearn import svm

    days = bench.reader_days(reader)
    lib = bench.library(reader)
    others = [i for d in days for i in bench.proto.days[d] if i not in set(lib)]
    ids = lib + others
    x = bench.tfidf_rows(ids)
    y = np.zeros(len(ids))
    y[: len(lib)] = 1
    clf = svm.LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
    clf.fit(x, y)
    out = {}
    for d in days:
        out[d] = clf.decision_function(bench.tfidf_rows(bench.proto.days[d]))
    return out


def zotero(bench: Bench, reader: str) -> dict[str, np.ndarray]:
    lib = sorted(bench.library(reader), key=lambda i: (bench.published[i], i), reverse=True)
    corpus = np.stack([bench.vec[i] for i in lib])
    weight = 1 / (1 + np.log10(np.arange(len(lib)) + 1))
    weight = weight / weight.sum()
    return {
        d: (bench.day_matrix[d] @ corpus.T * weight).sum(axis=1) * 10
        for d in bench.reader_days(reader)
    }


def ours(bench: Bench, reader: str, **options) -> dict[str, np.ndarray]:
    """paperfeed's model as the product fits it: refitted on each listing day with that day's
    word weights (the service refits when the latest listing day changes)."""
    lib = bench.library(reader)
    newest = max(bench.published[i] for i in lib)
    ages = [(np.datetime64(newest) - np.datetime64(bench.published[i])).astype(int) for i in lib]
    positives, counts = np.stack([bench.vec[i] for i in lib]), bench.terms(lib)
    out = {}
    for d in bench.reader_days(reader):
        profile = taste.fit(
            positives,
            terms=taste.weigh(counts, bench.words(d).idf),
            ages_days=np.array(ages, dtype=np.float64),
            **options,
        )
        out[d] = taste.score(profile, bench.day_papers(d))
    return out


METHODS = {"listing": listing, "sanity": sanity, "zotero": zotero, "ours": ours}


def evaluate(bench: Bench, method, **options) -> dict[str, list[float]]:
    """Reciprocal ranks per reader."""
    out: dict[str, list[float]] = {}
    for reader in bench.proto.readers:
        scores = method(bench, reader, **options)
        rr = []
        for t in bench.proto.targets[reader]:
            day = bench.day_of[t]
            rr.append(1 / rank_of(scores[day], bench.proto.days[day].index(t)))
        out[reader] = rr
    return out


def mrr(per_reader: dict[str, list[float]]) -> float:
    values = [x for rr in per_reader.values() for x in rr]
    return float(np.mean(values))


def hit10(per_reader: dict[str, list[float]]) -> float:
    values = [x for rr in per_reader.values() for x in rr]
    return float(np.mean([x >= 1 / 10 for x in values]))


def ratio_interval(
    ours_rr: dict[str, list[float]], base_rr: dict[str, list[float]], readers: list[str]
) -> tuple[float, float, float]:
    """Our MRR over the baseline's, and a 95% paired bootstrap interval over readers."""
    a_sum = np.array([sum(ours_rr[r]) for r in readers])
    b_sum = np.array([sum(base_rr[r]) for r in readers])
    rng = np.random.default_rng(rp.SEED)
    ratios = []
    for _ in range(BOOT):
        pick = rng.integers(0, len(readers), len(readers))
        ratios.append(a_sum[pick].sum() / b_sum[pick].sum())
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(a_sum.sum() / b_sum.sum()), float(lo), float(hi)


def feedback_test(bench: Bench, *, clusters: int = 20) -> dict:
    """Does a topic's share of the top 20 fall by half after 5 "not interested" on it?"""
    from sklearn.cluster import KMeans

    labels = {
        # A short listing day (the test split has one of 8 papers) gets fewer topics.
        d: KMeans(min(clusters, len(m)), n_init=3, random_state=rp.SEED).fit_predict(m)
        for d, m in bench.day_matrix.items()
    }
    before_shares, after_shares, ok = [], [], 0
    for reader in bench.proto.readers:
        lib = bench.library(reader)
        day = bench.reader_days(reader)[0]
        positives = np.stack([bench.vec[i] for i in lib])
        terms = taste.weigh(bench.terms(lib), bench.words(day).idf)
        m, lab, papers = bench.day_matrix[day], labels[day], bench.day_papers(day)
        profile = taste.fit(positives, terms=terms)
        first = taste.score(profile, papers)
        top = np.argsort(-first, kind="stable")[:20]
        topic = np.bincount(lab[top]).argmax()
        share0 = float(np.mean(lab[top] == topic))
        dismissed = [i for i in top if lab[i] == topic][:5]
        if len(dismissed) < 5:  # fewer than 5 in the top 20: take the topic's next best
            order = np.argsort(-first, kind="stable")
            dismissed = [i for i in order if lab[i] == topic][:5]
        profile = taste.fit(positives, negatives=m[dismissed], terms=terms)
        scores = taste.score(profile, papers)
        scores[dismissed] = -np.inf
        top = np.argsort(-scores, kind="stable")[:20]
        share1 = float(np.mean(lab[top] == topic))
        before_shares.append(share0)
        after_shares.append(share1)
        ok += share1 <= share0 / 2
    return {
        "readers": len(before_shares),
        "share_before": float(np.mean(before_shares)),
        "share_after": float(np.mean(after_shares)),
        "fraction_halved": ok / len(before_shares),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument("--methods", default="listing,sanity,zotero,ours")
    parser.add_argument(
        "--days",
        type=int,
        help="only the targets of the first N listing days (of a fixed shuffle): for machines "
        "where embedding every listing day of the protocol takes too long",
    )
    parser.add_argument("--no-feedback", action="store_true")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    split = rp.DEV if args.split == "dev" else rp.TEST
    print(f"CPU: {cpu()} ({os.cpu_count()} cores, shared with other jobs)")
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    bench = Bench(split, days=args.days)
    n_targets = sum(map(len, bench.proto.targets.values()))
    print(
        f"split {split.name} {split.split}"
        f"{f' (first {args.days} listing days)' if args.days else ''}: "
        f"{len(bench.proto.readers)} readers, "
        f"{n_targets} targets on {len(bench.proto.days)} listing days "
        f"(median {int(np.median([len(v) for v in bench.proto.days.values()]))} papers a day)"
    )
    results = {}
    for name in args.methods.split(","):
        start = time.perf_counter()
        results[name] = evaluate(bench, METHODS[name])
        print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    rows = [[name, f"{mrr(rr):.4f}", f"{hit10(rr):.3f}"] for name, rr in results.items()]
    print(table(["method", "MRR", "hit@10"], rows))
    report: dict = {
        "split": split.name,
        "readers": len(bench.proto.readers),
        "targets": n_targets,
        "methods": {n: {"mrr": mrr(rr), "hit@10": hit10(rr)} for n, rr in results.items()},
    }
    baselines = [n for n in ("sanity", "zotero") if n in results]
    if "ours" in results and baselines:
        best = max(baselines, key=lambda n: mrr(results[n]))
        ratio, lo, hi = ratio_interval(results["ours"], results[best], bench.proto.readers)
        verdict = "met" if ratio >= 1.2 and lo > 1.0 else "NOT met"
        print(
            f"ours / {best}: MRR ratio {ratio:.3f} (95% paired bootstrap {lo:.3f}-{hi:.3f}); "
            f"target >= 1.2 with the interval above 1.0: {verdict}"
        )
        report["ratio"] = {"baseline": best, "ratio": ratio, "low": lo, "high": hi}
    if not args.no_feedback:
        fb = feedback_test(bench)
        print(
            f"feedback: topic share of the top 20 {fb['share_before']:.3f} -> "
            f"{fb['share_after']:.3f} after 5 'not interested' "
            f"(halved or better for {fb['fraction_halved']:.1%} of {fb['readers']} readers)"
        )
        report["feedback"] = fb
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
