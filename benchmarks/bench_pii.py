"""Phone scrubbing on real reviews: how many reviews it changes, what it changed, how fast.

On the real clothing reviews (title and text joined as ingest joins them), prints:

1. how many reviews the phone scrub changes (real reviews quote almost no phone numbers, so
   this is close to the false-positive rate; target < 0.5 %), and each changed snippet before
   and after, for a human to judge;
2. the same count for the regex scrubber it replaced;
3. throughput (reviews/s) of the whole review scrub (e-mails, phones) old vs new, best of
   ``--repeat`` runs, and of the new scrub on the planted corpus of ``tests/test_pii.py``
   (every text holds a number, so every one goes through the matcher: the worst case);
4. on that corpus: how many planted numbers each scrubber lets
   through (wholly or in part).

Usage::

    nice -n 10 python benchmarks/bench_pii.py --reviews womens_clothing_reviews.csv
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segment_report.pipeline.config import PrivacyConfig  # noqa: E402
from segment_report.pipeline.stages.ingest.privacy import (EMAIL_PATTERN, PHONE_CANDIDATE_PATTERN,  # noqa: E402
                                                           PHONE_MIN_DIGITS, _phone_spans, scrub_texts)
from segment_report.pipeline.stages.sentiment.text import review_texts  # noqa: E402
from tests.test_pii import phone_corpus  # noqa: E402  (the planted corpus the tests use)

# The clothing reviews CSV: --reviews, else $SEGMENT_REPORT_CLOTHING_CSV (no default path: data lives outside the project).
DEFAULT_CSV = Path(os.environ["SEGMENT_REPORT_CLOTHING_CSV"]) if os.environ.get("SEGMENT_REPORT_CLOTHING_CSV") else None

# The scrubber before libphonenumber (kept here only to compare against).
OLD_PHONE_PATTERN = (r"(^|[^0-9])(\+[0-9][0-9 ().-]{7,}[0-9]"
                     r"|\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4})([^0-9]|$)")


def old_scrub(texts: pd.Series) -> pd.Series:
    """The old e-mail + phone regex scrub (two pyarrow kernels)."""
    out = texts.astype(pd.StringDtype("pyarrow")).str.replace(EMAIL_PATTERN, "[email]", regex=True)
    return out.str.replace(OLD_PHONE_PATTERN, r"\1[phone]\3", regex=True)


def best_rate(fn, texts: pd.Series, repeat: int) -> float:
    """Reviews per second of ``fn(texts)``, best of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def main() -> None:
    """Run the benchmark and print the figures (and one JSON line at the end)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reviews", type=Path, default=DEFAULT_CSV, required=DEFAULT_CSV is None,
                    help="the clothing reviews CSV (default: $SEGMENT_REPORT_CLOTHING_CSV)")
    ap.add_argument("--text-col", default="Review Text")
    ap.add_argument("--title-col", default="Title")
    ap.add_argument("--regions", default="US", help="privacy.phone_regions, comma-separated")
    ap.add_argument("--leniency", default=PrivacyConfig().phone_leniency)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    privacy = PrivacyConfig(phone_regions=tuple(args.regions.split(",")), phone_leniency=args.leniency)
    df = pd.read_csv(args.reviews)
    texts = pd.Series(review_texts(df, args.text_col, args.title_col), dtype="string[pyarrow]")
    texts = texts[texts.notna() & (texts.str.len() > 0)].reset_index(drop=True)
    n = len(texts)
    candidate = texts.str.contains(PHONE_CANDIDATE_PATTERN, regex=True).fillna(False)
    with_digits = int(candidate.sum())
    print(f"{n:,} reviews with text; {with_digits:,} ({with_digits / n:.2%}) have a run of {PHONE_MIN_DIGITS}+ "
          f"digits and go through the matcher (regions {list(privacy.phone_regions)}, "
          f"leniency {privacy.phone_leniency})")

    new = scrub_texts(texts, privacy=privacy)
    old = old_scrub(texts)
    no_email = texts.str.replace(EMAIL_PATTERN, "[email]", regex=True)
    changed_new = (new != no_email).to_numpy()
    changed_old = (old != no_email).to_numpy()
    print(f"\nphone scrub changed {changed_new.sum():,} reviews = {changed_new.mean():.3%} "
          f"(old regex: {changed_old.sum():,} = {changed_old.mean():.3%}); "
          f"e-mail scrub changed {(no_email != texts).sum():,}")
    examples = []
    for i in changed_new.nonzero()[0]:
        text = no_email.iloc[i]
        for start, end in _phone_spans(text, tuple(privacy.phone_regions), privacy.phone_leniency):
            snippet = text[max(0, start - 40):end + 25].replace("\n", " ")
            examples.append({"row": int(i), "number": text[start:end], "context": snippet})
            print(f"  row {i}: {text[start:end]!r}  in  ...{snippet}...")
    only_old = (changed_old & ~changed_new).nonzero()[0]
    if len(only_old):
        print(f"\nchanged by the old regex only ({len(only_old)}):")
        for i in only_old[:20]:
            m = re.search(OLD_PHONE_PATTERN, no_email.iloc[i])
            print(f"  row {i}: {m.group(2)!r}  in  ...{no_email.iloc[i][max(0, m.start() - 40):m.end() + 25]}...")

    rate_old = best_rate(old_scrub, texts, args.repeat)
    rate_new = best_rate(lambda t: scrub_texts(t, privacy=privacy), texts, args.repeat)
    corpus = phone_corpus()
    rate_corpus = best_rate(lambda t: scrub_texts(t, privacy=privacy), corpus["text"], args.repeat)
    print(f"\nthroughput, whole review scrub (e-mails + phones), best of {args.repeat}: old regex "
          f"{rate_old:,.0f} reviews/s, new {rate_new:,.0f} reviews/s ({rate_new / rate_old:.2f}x); new on the "
          f"{len(corpus):,} planted-corpus texts (every one goes through the matcher): {rate_corpus:,.0f} texts/s")

    planted = [(f, p) for fs, ps in zip(corpus["formats"], corpus["phones"]) for f, p in zip(fs, ps)]
    leaks: dict[str, dict[str, int]] = {"old": {}, "new": {}}
    for fmt, phone in planted:
        probe = pd.Series([f"call me on {phone} please"])
        for name, out in (("old", old_scrub(probe)), ("new", scrub_texts(probe, privacy=privacy))):
            if re.search(r"[0-9]", out.iloc[0]):
                leaks[name][fmt] = leaks[name].get(fmt, 0) + 1
    print(f"\nplanted corpus: {len(planted)} numbers in {len({f for f, _ in planted})} formats; kept (wholly or "
          f"in part) by the old regex {sum(leaks['old'].values())} {leaks['old']}, by the new scrub "
          f"{sum(leaks['new'].values())} {leaks['new']}")
    print(json.dumps({"reviews": n, "matcher_rows": with_digits, "changed_new": int(changed_new.sum()),
                      "changed_new_share": float(changed_new.mean()), "changed_old": int(changed_old.sum()),
                      "changed_old_share": float(changed_old.mean()), "old_reviews_per_s": rate_old,
                      "new_reviews_per_s": rate_new, "new_corpus_texts_per_s": rate_corpus,
                      "regions": list(privacy.phone_regions), "leniency": privacy.phone_leniency,
                      "corpus_numbers": len(planted), "corpus_kept_old": sum(leaks["old"].values()),
                      "corpus_kept_new": sum(leaks["new"].values()), "examples": examples[:50]}))


if __name__ == "__main__":
    main()
