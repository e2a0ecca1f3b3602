"""Geography benchmarks: stage speed at 100k customers, and planted-cluster recovery over seeds.

Usage::

    python benchmarks/bench_geography.py speed [--customers 100000]
    python benchmarks/bench_geography.py recovery [--seeds 20] [--transactions 20000]

``speed`` builds a 100k-customer feature table from the synthetic generator's customers
(positive_prob = latent sentiment + noise), then times ``analyse_geography`` + the static map
(SVG + PNG) + the interactive map (figure + HTML) in this process, imports included.

``recovery`` runs the generator (pipeline/synthetic/) for each seed, scores every review with
VADER (compound score mapped to [0, 1]; a real, noisy sentiment model, much faster than the
project's transformer), aggregates per customer and checks the hotspots against
``ground_truth.json`` (``--scorer rating`` uses the star ratings instead: a perfect
classifier, the upper bound; ``--scorer model`` the project's shipped sentiment model):
planted high states should be HH, planted low states LL; every other
significant LISA class counts as a false flag; states under ``min_customers`` must never be
flagged.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def customer_table(frames: dict, positive_prob: pd.Series | None, rng: np.random.Generator) -> pd.DataFrame:
    """A feature-table-like frame from the generator's truth tables."""
    truth = frames["truth_customers"]
    df = pd.DataFrame({
        "customer_id": truth["customer_id"].astype(str),
        "state": pd.array(truth["state"].where(truth["country"] == "USA", None), dtype="string"),
        "country": truth["country"], "is_us": (truth["country"] == "USA").to_numpy(),
        "monetary": rng.gamma(2.0, 90.0, len(truth)),
        "segment_id": truth["persona_id"].to_numpy(),
        "segment_name": truth["persona"].to_numpy(),
    })
    if positive_prob is None:
        n_rev = rng.poisson(1.2, len(df))
        prob = np.clip(truth["sentiment"].to_numpy() + rng.normal(0, 0.2, len(df)), 0, 1)
        missing = n_rev == 0
    else:
        prob = positive_prob.reindex(df["customer_id"]).to_numpy(dtype=float)
        missing = ~np.isfinite(prob)
        n_rev = (~missing).astype(int)
    national = float(np.mean(prob[~missing]))
    df["positive_prob"] = np.where(missing, national, prob)
    df["sentiment_missing"] = missing
    df["review_count"] = n_rev
    return df


def bench_speed(n_customers: int) -> None:
    from segment_report.pipeline.synthetic import GenerateConfig, generate_frames

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    frames, _ = generate_frames(GenerateConfig(mode="tables", n_transactions=min(2_000_000, int(4.4 * n_customers)),
                                               seed=1))
    customers = customer_table(frames, None, rng)
    if len(customers) > n_customers:
        customers = customers.iloc[:n_customers]
    t_data = time.perf_counter() - t0
    print(f"customers: {len(customers):,} (US {int(customers['is_us'].sum()):,}); "
          f"data build {t_data:.1f} s (not part of the stage)")

    t1 = time.perf_counter()
    from segment_report.pipeline.config import GeographyConfig
    from segment_report.pipeline.io.store import RunFolder
    from segment_report.pipeline.stages.geography import analyse_geography
    from segment_report.reports.maps import build_interactive_map, draw_static_map
    t_import = time.perf_counter() - t1

    cfg = GeographyConfig()
    t2 = time.perf_counter()
    result = analyse_geography(customers, None, cfg, seed=42)
    t_stats = time.perf_counter() - t2
    with tempfile.TemporaryDirectory() as tmp:
        RunFolder(Path(tmp)).create().write_document("states", result.report)
        t3 = time.perf_counter()
        draw_static_map(result.report, Path(tmp) / "states.svg")
        t_static = time.perf_counter() - t3
        t4 = time.perf_counter()
        fig = build_interactive_map(result.report)
        fig.write_html(Path(tmp) / "states.html", include_plotlyjs=False, full_html=False)
        t_interactive = time.perf_counter() - t4
    total = t_import + t_stats + t_static + t_interactive
    print(f"imports (geography + maps): {t_import:.2f} s")
    print(f"statistics (analyse_geography, {cfg.permutations} permutations): {t_stats:.2f} s")
    print(f"static map (SVG + PNG): {t_static:.2f} s")
    print(f"interactive map (figure + HTML div): {t_interactive:.2f} s")
    print(f"whole stage incl. imports: {total:.2f} s (target <= 15 s)")
    print(f"process wall so far (incl. interpreter start-up imports and data build): "
          f"{time.perf_counter() - T_START:.1f} s")


def vader_scores(reviews: pd.DataFrame) -> pd.Series:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    texts = reviews["text"].fillna("").astype(str).tolist()
    compound = np.array([analyzer.polarity_scores(t)["compound"] for t in texts])
    return pd.Series((compound + 1.0) / 2.0, index=reviews["customer_id"].astype(str).to_numpy())


def rating_scores(reviews: pd.DataFrame) -> pd.Series:
    """A perfect classifier of the generator's labels: 1 for ratings 4-5, 0.5 for 3, 0 for 1-2."""
    rating = pd.to_numeric(reviews["rating"], errors="coerce").to_numpy()
    score = np.select([rating >= 4, rating == 3], [1.0, 0.5], 0.0)
    return pd.Series(score, index=reviews["customer_id"].astype(str).to_numpy())


class ModelScorer:
    """The project's own sentiment model (pipeline/stages/sentiment/), with a score cache shared by
    the seeds (the generator reuses its bank of real review texts)."""

    def __init__(self, cache_dir: Path) -> None:
        from segment_report.pipeline.config import SentimentConfig
        from segment_report.pipeline.stages.sentiment.cache import ScoreCache
        from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer

        self.scorer = SentimentScorer(SentimentConfig(), ScoreCache(cache_dir), device="cpu")

    def __call__(self, reviews: pd.DataFrame) -> pd.Series:
        scores, _, _ = self.scorer.score(reviews["text"].tolist(), progress=None)
        return pd.Series(scores["positive_prob"].to_numpy(dtype=float),
                         index=reviews["customer_id"].astype(str).to_numpy()).dropna()


def bench_recovery(n_seeds: int, n_transactions: int, scorer: str = "vader") -> None:
    from segment_report.pipeline.config import GeographyConfig
    from segment_report.pipeline.stages.geography import analyse_geography
    from segment_report.pipeline.synthetic import GenerateConfig, generate_frames

    cfg = GeographyConfig()
    rows = []
    t0 = time.perf_counter()
    cache = tempfile.TemporaryDirectory()
    score = {"vader": vader_scores, "rating": rating_scores}.get(scorer) or ModelScorer(Path(cache.name))
    for seed in range(n_seeds):
        frames, truth = generate_frames(GenerateConfig(mode="tables", n_transactions=n_transactions,
                                                       seed=seed))
        planted = truth["effects"]["state_sentiment"]
        high, low = set(planted["high"]["states"]), set(planted["low"]["states"])
        per_review = score(frames["reviews"])
        per_customer = per_review.groupby(level=0).mean()
        customers = customer_table(frames, per_customer, np.random.default_rng(seed))
        result = analyse_geography(customers, frames["reviews"], cfg, seed=seed)
        st = result.states
        flagged = set(st.index[st["lisa_class"] != "not significant"])
        hh = set(st.index[st["lisa_class"] == "HH"])
        ll = set(st.index[st["lisa_class"] == "LL"])
        small = set(st.index[st["customers"] < cfg.min_customers])
        rows.append({
            "seed": seed, "high_found": len(hh & high), "low_found": len(ll & low),
            "false_flags": len(flagged - high - low), "false": ",".join(sorted(flagged - high - low)),
            "small_flagged": len(flagged & small), "n_small": len(small),
            "moran_i": result.report["spatial"]["moran_i"], "moran_p": result.report["spatial"]["moran_p"],
        })
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(df.to_string(index=False))
    n_planted = len(high) + len(low)
    recall = (df["high_found"] + df["low_found"]) / n_planted
    print(f"\nseeds: {n_seeds}, transactions per seed: {n_transactions:,}, "
          f"customers per seed ~{len(frames['truth_customers']):,}, scorer: {scorer}")
    print(f"planted states flagged in the right class: mean {recall.mean():.2f} "
          f"(all 6 in {int((recall == 1).sum())}/{n_seeds} seeds, min {recall.min():.2f})")
    print(f"false flags (any significant class in a no-effect state): mean {df['false_flags'].mean():.2f}, "
          f"max {df['false_flags'].max()} (target: mean <= 1)")
    print(f"states under {cfg.min_customers} customers flagged: {int(df['small_flagged'].sum())} "
          f"(target 0; mean {df['n_small'].mean():.1f} such states per seed)")
    print(f"global Moran's I significant at {cfg.alpha}: {int((df['moran_p'] < cfg.alpha).sum())}/{n_seeds}")
    print(f"elapsed {time.perf_counter() - t0:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    speed = sub.add_parser("speed")
    speed.add_argument("--customers", type=int, default=100_000)
    rec = sub.add_parser("recovery")
    rec.add_argument("--seeds", type=int, default=20)
    rec.add_argument("--transactions", type=int, default=20_000)
    rec.add_argument("--scorer", choices=("vader", "model", "rating"), default="vader",
                     help="vader: VADER on the review text; model: the project's sentiment model "
                          "(slow on CPU); rating: labels from the star rating")
    args = parser.parse_args(argv)
    if args.what == "speed":
        bench_speed(args.customers)
    else:
        bench_recovery(args.seeds, args.transactions, args.scorer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
