"""Synthetic retail data with planted, documented ground truth (``segment-report generate``).

The generator writes either input mode (one retail table in the column layout of the public
Retail Transactional Dataset, or customers + transactions + reviews tables), a
``segment-report.yaml`` that reads them, and the ground truth beside them:
``ground_truth.json``, ``truth_customers.csv`` and ``truth_reviews.csv``. Same config and
seed give byte-identical files. Everything is vectorised (Arrow for the string columns):
2M transactions take about 15-20 s of CPU (see ``benchmarks/RESULTS.md``).

Scale: up to 10M transactions. The customers, transactions and reviews are drawn in memory
(all random draws, the mess included, in one fixed order), but the transaction-sized table
(retail_data.csv, or transactions.csv) is built from them and written ``CHUNK_ROWS`` rows at
a time (:class:`~segment_report.pipeline.synthetic.frames.RowSource`), so its text is never
held whole; the bytes are those of building and writing it in one go. With
``parts="monthly"`` that table (and reviews.csv in mode ``tables``) is written as a folder of
monthly CSV parts instead (see :class:`GenerateConfig`).

Planted ground truth
--------------------
Personas (4-7, the first ``n_personas`` of :data:`PERSONAS`). Each customer belongs to one
persona, which sets the distributions of: age (normal), orders in the window (a minimum of
2, or 1 for one-time buyers, plus a gamma-Poisson count; the total is exactly
``n_transactions``), basket size (items per order, 1 + Poisson, at most 10), unit price level
(multiplies a per-category base price, lognormal noise), category mix (Dirichlet around the
persona's mix; each persona has one dominant category), first and last order dates (as
fractions of the window: "Lapsed Bargain Hunters" stop buying 3-5 months before the end of a
6-month window, "New Premium Shoppers" start in its last fifth), latent sentiment (normal,
clipped to [0.02, 0.98]), gender and income band. 95 % of a regular persona's customers order
at least twice; one-time buyers are the remaining 5 % (and most of "New Premium Shoppers").
About 4 transactions per customer on average, so 20k transactions ~ 5k customers. Tails
overlap on purpose; the personas separate on the per-customer features (recency, frequency,
spend, order value, items per order, tenure, category shares, age, sentiment), not on any
single one: UMAP (8 dims) + HDBSCAN reaches an adjusted Rand index of about 0.9-0.97 against
the personas on 20k transactions (``benchmarks/bench_generate.py --separability``).

Satisfaction raises spend: each customer's satisfaction is ``u = clip(s + N(0,
satisfaction_sd), 0.02, 0.98)`` (latent sentiment plus a personal deviation, sd 0.15), and every
unit price is multiplied by ``exp(b * (u - 0.5))`` with ``b = 10 * ln(1 + sentiment_spend_pct /
100)``, i.e. +15 % order value per +0.1 satisfaction by default, within every persona.
``ground_truth.json`` ranks the planted drivers of spend (``effects.spend_drivers``) by their
observational Shapley values in dollars (:func:`planted_drivers`): the factors are orders,
items per order, category prices, the persona's price level and satisfaction, and effects
within 10 % of each other are tied. The value model sees satisfaction only through about one
noisy review for about half of the customers, so its measured effect is smaller than the
planted one (see ``benchmarks/bench_drivers_planted.py``).

States: US customers are spread over the 50 states + DC by 2020 census population (small
states get fewer than 30 customers at 5k customers). Customers in Michigan, Ohio and Indiana
(neighbours) have latent sentiment raised by ``state_sentiment_shift`` (0.15); customers in
Georgia, North Carolina and South Carolina (neighbours) lowered by the same amount.

Countries: ``1 - non_us_share`` (90 %) of customers are in the USA, the rest in the UK,
Germany, Canada and Australia with their region in ``State`` (England, Bavaria, Ontario, New
South Wales, ...).

Reviews: ``review_share`` of transactions carry a review. Its star rating is
``clip(round(1 + 4 u + N(0, e)), 1, 5)`` with ``e = sqrt(0.75^2 - (4 satisfaction_sd)^2)``
(ratings scatter 0.75 stars in all around ``1 + 4 s``; the customer's own part is shared by
their reviews and their spend), and its true label follows from the rating (1-2 negative,
3 neutral, 4-5 positive). Reviews of clothing use, with probability
``real_text_share``, a real CC0 review with the same rating (``pipeline/data``, see
ATTRIBUTION.md); the rest are composed from aspect sentences (quality, fit, size, fabric,
price, shipping, delivery, customer service, packaging, ...) with negation, mixed opinions,
lower-case writing and typos, 3-150 words. About ``pii_text_share`` (1 %) of review texts
carry the customer's own e-mail address or phone number so PII scrubbing can be tested.

Mess (``messy=True``): benign mess on valid rows (mixed date formats, stray whitespace, case
differences, states as names, codes or odd case, amounts with ``$`` and thousands separators,
customers with unknown age / gender / income, exact duplicate rows) and a known number of
extra invalid transaction rows, each with exactly one problem: ``amount`` (a non-numeric
Total_Amount, or in retail mode a non-numeric Amount), ``date`` (unparseable), ``customer_id``
(blank) or ``negative_total`` (a negative Total_Amount, with the matching negative Amount).
Invalid rows are extra rows, so the valid rows are exactly the clean data (same seed, same
values); they are never duplicated, and duplicated rows never carry planted PII. Duplicates
(``duplicate_share``, 1 %) and invalid rows (``invalid_share``, 1.5 %, split evenly over the
four reasons) are appended after the valid rows, shuffled among themselves. In mode
``tables`` invalid rows go into transactions.csv only; each of the three files gets duplicates.
Invalid amounts are never NA tokens such as ``N/A``: a missing total beside a valid amount and
quantity is recomputable, so it would not make a row invalid.
"""

from segment_report.pipeline.synthetic.config import GenerateConfig, GeneratedDataset
from segment_report.pipeline.synthetic.files import generate_dataset
from segment_report.pipeline.synthetic.frames import generate_frames

__all__ = ["GenerateConfig", "GeneratedDataset", "generate_dataset", "generate_frames"]
