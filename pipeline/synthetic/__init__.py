"""Synthetic retail data with planted, documented ground truth (``segment-report generate``).

The generator writes either input mode (one retail table in the column layout of the public
Retail Transactional Dataset, or customers + transactions + reviews tables), a
``segment-report.yaml`` that reads them, and the ground truth beside them:
``ground_truth.json``, ``truth_customers.csv`` and ``truth_reviews.csv``. Same config and
seed give byte-identical files. Everything is vectorised (Arrow for the string columns):
2M transactions take about 15-20 s of CPU (see ``benchmarks/RESULTS.md``).

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

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import yaml

from segment_report.pipeline import __version__
from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.log import logger, progress_bar
from segment_report.pipeline.states import CODE_TO_NAME

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class GenerateConfig:
    """Parameters of one generated dataset (validated on creation).

    Attributes:
        mode: ``retail_table`` (one file, public Retail Transactional Dataset layout) or
            ``tables`` (customers.csv, transactions.csv, reviews.csv).
        n_transactions: valid, distinct transactions (1k to 2M); mess is added on top.
        months, end_date: the window of history, ending on ``end_date`` (YYYY-MM-DD).
        n_personas: planted personas (4 to 7).
        seed: random seed; same config, same bytes.
        messy: inject benign mess, duplicates and invalid rows.
        review_share: share of transactions that carry a review.
        non_us_share: share of customers outside the USA.
        real_text_share: share of clothing reviews that use a real CC0 review text.
        pii_text_share: share of reviews whose text carries the customer's e-mail or phone.
        sentiment_spend_pct: planted spend effect, % order value per +0.1 satisfaction.
        satisfaction_sd: sd of each customer's satisfaction around their latent sentiment
            (at most 0.1875, where it would take all of the 0.75-star rating noise).
        state_sentiment_shift: planted sentiment shift of the high and low state groups.
        invalid_share, duplicate_share: invalid and duplicate rows (messy only), as shares of
            ``n_transactions`` (of each file's rows for duplicates in mode ``tables``).

    Raises:
        ConfigError: a value is out of range (the message names the key, the allowed range
            and the value received).
    """

    mode: Literal["retail_table", "tables"] = "retail_table"
    n_transactions: int = 20_000
    months: int = 6
    end_date: str = "2026-10-31"
    n_personas: int = 5
    seed: int = 42
    messy: bool = False
    review_share: float = 0.25
    non_us_share: float = 0.10
    real_text_share: float = 0.85
    pii_text_share: float = 0.01
    sentiment_spend_pct: float = 15.0
    satisfaction_sd: float = 0.15
    state_sentiment_shift: float = 0.15
    invalid_share: float = 0.015
    duplicate_share: float = 0.01

    def __post_init__(self) -> None:
        def bad(key: str, allowed: str, value: object) -> ConfigError:
            return ConfigError(f"generate: '{key}' must be {allowed}; got {value!r}",
                               expected=allowed, fix=f"pass a valid {key}")

        if self.mode not in ("retail_table", "tables"):
            raise bad("mode", "'retail_table' or 'tables'", self.mode)
        if not 1_000 <= self.n_transactions <= 2_000_000:
            raise bad("n_transactions", "an int in [1000, 2000000]", self.n_transactions)
        if not 1 <= self.months <= 60:
            raise bad("months", "an int in [1, 60]", self.months)
        if not 4 <= self.n_personas <= len(PERSONAS):
            raise bad("n_personas", f"an int in [4, {len(PERSONAS)}]", self.n_personas)
        try:
            datetime.strptime(self.end_date, "%Y-%m-%d")
        except (TypeError, ValueError):
            raise bad("end_date", "a date YYYY-MM-DD", self.end_date) from None
        for key, hi in (("review_share", 1.0), ("non_us_share", 0.5), ("real_text_share", 1.0),
                        ("pii_text_share", 0.2), ("invalid_share", 0.2),
                        ("duplicate_share", 0.2), ("state_sentiment_shift", 0.5)):
            value = getattr(self, key)
            if not 0.0 <= value <= hi:
                raise bad(key, f"a number in [0, {hi}]", value)
        if not 0.0 <= self.satisfaction_sd <= RATING_NOISE_SD / 4:
            raise bad("satisfaction_sd", f"a number in [0, {RATING_NOISE_SD / 4}]", self.satisfaction_sd)
        if not 0.0 <= self.sentiment_spend_pct <= 50.0:
            raise bad("sentiment_spend_pct", "a number in [0, 50]", self.sentiment_spend_pct)


@dataclass(frozen=True)
class GeneratedDataset:
    """What :func:`generate_dataset` wrote."""

    out_dir: Path
    data_files: dict[str, Path]
    config_file: Path
    truth_file: Path
    rows: dict[str, int] = field(default_factory=dict)
    n_customers: int = 0
    n_reviews: int = 0

    def summary(self) -> str:
        """One line for the CLI: files, rows, customers."""
        files = ", ".join(f"{p.name} ({self.rows.get(k, 0):,} rows)"
                          for k, p in self.data_files.items())
        return (f"{files}; {self.n_customers:,} customers, {self.n_reviews:,} reviews; "
                f"config {self.config_file.name}, truth {self.truth_file.name} in {self.out_dir}")


# --------------------------------------------------------------------------- personas

CATEGORIES: tuple[str, ...] = ("Electronics", "Clothing", "Books", "Home Decor", "Grocery")
CATEGORY_BASE_PRICE: tuple[float, ...] = (120.0, 40.0, 18.0, 55.0, 12.0)


@dataclass(frozen=True)
class Persona:
    """Distribution parameters of one latent persona (see the module docstring)."""

    name: str
    weight: float
    age_mean: float
    age_sd: float
    orders_mean: float           # expected orders per customer in the window (>= 1)
    basket_mean: float           # expected items per order (>= 1)
    price_level: float           # multiplies CATEGORY_BASE_PRICE
    price_sigma: float           # lognormal noise of unit prices
    category_mix: tuple[float, ...]  # expected shares over CATEGORIES
    mix_concentration: float     # Dirichlet concentration around category_mix
    sentiment_mean: float
    sentiment_sd: float
    gender_probs: tuple[float, float, float]   # female, male, other
    income_probs: tuple[float, float, float]   # low, medium, high
    first_order: tuple[float, float]  # uniform range of the first order, as window fractions
    last_order: tuple[float, float]   # uniform range of the last order, as window fractions
    one_time_share: float = 0.05      # customers allowed a single order; the rest order >= 2


PERSONAS: tuple[Persona, ...] = (
    Persona("Young Fashion Regulars", 0.22, 26, 4, 6.0, 2.0, 0.8, 0.30,
            (0.01, 0.94, 0.01, 0.03, 0.01), 50, 0.72, 0.10, (0.70, 0.27, 0.03),
            (0.45, 0.45, 0.10), (0.0, 0.25), (0.90, 1.0)),
    Persona("Family Bulk Shoppers", 0.22, 41, 5, 5.0, 6.0, 0.9, 0.30,
            (0.01, 0.02, 0.01, 0.03, 0.93), 50, 0.55, 0.10, (0.58, 0.40, 0.02),
            (0.25, 0.60, 0.15), (0.0, 0.20), (0.88, 1.0)),
    Persona("Tech Enthusiasts", 0.18, 33, 5, 3.0, 1.2, 1.5, 0.30,
            (0.94, 0.02, 0.02, 0.01, 0.01), 50, 0.62, 0.10, (0.25, 0.72, 0.03),
            (0.10, 0.40, 0.50), (0.0, 0.40), (0.80, 1.0)),
    Persona("Lapsed Bargain Hunters", 0.19, 56, 7, 3.0, 3.0, 0.6, 0.35,
            (0.01, 0.93, 0.02, 0.02, 0.02), 50, 0.28, 0.10, (0.50, 0.48, 0.02),
            (0.60, 0.32, 0.08), (0.0, 0.10), (0.15, 0.45)),
    Persona("Affluent Home Lovers", 0.19, 67, 6, 3.5, 2.0, 1.8, 0.30,
            (0.01, 0.02, 0.03, 0.93, 0.01), 50, 0.85, 0.07, (0.60, 0.38, 0.02),
            (0.08, 0.32, 0.60), (0.0, 0.30), (0.85, 1.0)),
    Persona("Budget Bookworms", 0.15, 47, 6, 4.0, 3.5, 0.7, 0.30,
            (0.01, 0.02, 0.94, 0.02, 0.01), 50, 0.70, 0.10, (0.62, 0.35, 0.03),
            (0.35, 0.50, 0.15), (0.0, 0.30), (0.85, 1.0)),
    Persona("New Premium Shoppers", 0.15, 36, 5, 1.8, 1.6, 1.4, 0.30,
            (0.92, 0.04, 0.01, 0.02, 0.01), 50, 0.50, 0.10, (0.50, 0.47, 0.03),
            (0.10, 0.45, 0.45), (0.80, 0.95), (0.90, 1.0), 1.0),
)

GENDERS = ("Female", "Male", "Other")
INCOME_BANDS = ("Low", "Medium", "High")
# Numeric income (tables mode): band edges in US$ per year, as ingest's INCOME_BAND_EDGES.
INCOME_RANGES = ((18_000, 40_000), (40_000, 100_000), (100_000, 250_000))
HIGH_SENTIMENT_STATES = ("MI", "OH", "IN")
LOW_SENTIMENT_STATES = ("GA", "NC", "SC")

# 2020 census resident population, millions.
STATE_POPULATION: dict[str, float] = {
    "CA": 39.54, "TX": 29.15, "FL": 21.54, "NY": 20.20, "PA": 13.00, "IL": 12.81, "OH": 11.80,
    "GA": 10.71, "NC": 10.44, "MI": 10.08, "NJ": 9.29, "VA": 8.63, "WA": 7.71, "AZ": 7.15,
    "MA": 7.03, "TN": 6.91, "IN": 6.79, "MD": 6.18, "MO": 6.15, "WI": 5.89, "CO": 5.77,
    "MN": 5.71, "SC": 5.12, "AL": 5.02, "LA": 4.66, "KY": 4.51, "OR": 4.24, "OK": 3.96,
    "CT": 3.61, "UT": 3.27, "IA": 3.19, "NV": 3.10, "AR": 3.01, "MS": 2.96, "KS": 2.94,
    "NM": 2.12, "NE": 1.96, "ID": 1.84, "WV": 1.79, "HI": 1.46, "NH": 1.38, "ME": 1.36,
    "RI": 1.10, "MT": 1.08, "DE": 0.99, "SD": 0.89, "ND": 0.78, "AK": 0.73, "DC": 0.69,
    "VT": 0.64, "WY": 0.58,
}
STATE_CITIES: dict[str, tuple[str, str]] = {
    "AL": ("Birmingham", "Huntsville"), "AK": ("Anchorage", "Fairbanks"),
    "AZ": ("Phoenix", "Tucson"), "AR": ("Little Rock", "Fayetteville"),
    "CA": ("Los Angeles", "San Diego"), "CO": ("Denver", "Colorado Springs"),
    "CT": ("Hartford", "New Haven"), "DE": ("Wilmington", "Dover"),
    "DC": ("Washington", "Washington"), "FL": ("Miami", "Orlando"),
    "GA": ("Atlanta", "Savannah"), "HI": ("Honolulu", "Hilo"), "ID": ("Boise", "Idaho Falls"),
    "IL": ("Chicago", "Springfield"), "IN": ("Indianapolis", "Fort Wayne"),
    "IA": ("Des Moines", "Cedar Rapids"), "KS": ("Wichita", "Topeka"),
    "KY": ("Louisville", "Lexington"), "LA": ("New Orleans", "Baton Rouge"),
    "ME": ("Portland", "Bangor"), "MD": ("Baltimore", "Annapolis"),
    "MA": ("Boston", "Worcester"), "MI": ("Detroit", "Grand Rapids"),
    "MN": ("Minneapolis", "Saint Paul"), "MS": ("Jackson", "Gulfport"),
    "MO": ("Kansas City", "St. Louis"), "MT": ("Billings", "Missoula"),
    "NE": ("Omaha", "Lincoln"), "NV": ("Las Vegas", "Reno"), "NH": ("Manchester", "Concord"),
    "NJ": ("Newark", "Jersey City"), "NM": ("Albuquerque", "Santa Fe"),
    "NY": ("New York", "Buffalo"), "NC": ("Charlotte", "Raleigh"), "ND": ("Fargo", "Bismarck"),
    "OH": ("Columbus", "Cleveland"), "OK": ("Oklahoma City", "Tulsa"),
    "OR": ("Portland", "Eugene"), "PA": ("Philadelphia", "Pittsburgh"),
    "RI": ("Providence", "Warwick"), "SC": ("Charleston", "Columbia"),
    "SD": ("Sioux Falls", "Rapid City"), "TN": ("Nashville", "Memphis"),
    "TX": ("Houston", "Austin"), "UT": ("Salt Lake City", "Provo"),
    "VT": ("Burlington", "Montpelier"), "VA": ("Virginia Beach", "Richmond"),
    "WA": ("Seattle", "Spokane"), "WV": ("Charleston", "Morgantown"),
    "WI": ("Milwaukee", "Madison"), "WY": ("Cheyenne", "Casper"),
}
# First ZIP digit by state (USPS national areas).
ZIP_AREA: dict[str, int] = {
    **dict.fromkeys(("CT", "MA", "ME", "NH", "NJ", "RI", "VT"), 0),
    **dict.fromkeys(("DE", "NY", "PA"), 1),
    **dict.fromkeys(("DC", "MD", "NC", "SC", "VA", "WV"), 2),
    **dict.fromkeys(("AL", "FL", "GA", "MS", "TN"), 3),
    **dict.fromkeys(("IN", "KY", "MI", "OH"), 4),
    **dict.fromkeys(("IA", "MN", "MT", "ND", "SD", "WI"), 5),
    **dict.fromkeys(("IL", "KS", "MO", "NE"), 6),
    **dict.fromkeys(("AR", "LA", "OK", "TX"), 7),
    **dict.fromkeys(("AZ", "CO", "ID", "NM", "NV", "UT", "WY"), 8),
    **dict.fromkeys(("AK", "CA", "HI", "OR", "WA"), 9),
}
# country -> (share among non-US customers, {region: (share, cities)})
FOREIGN: dict[str, tuple[float, dict[str, tuple[float, tuple[str, ...]]]]] = {
    "UK": (0.35, {"England": (0.84, ("London", "Manchester", "Birmingham", "Leeds", "Bristol")),
                  "Scotland": (0.08, ("Edinburgh", "Glasgow")),
                  "Wales": (0.05, ("Cardiff", "Swansea")),
                  "Northern Ireland": (0.03, ("Belfast", "Derry"))}),
    "Germany": (0.25, {"Bavaria": (0.25, ("Munich", "Nuremberg")),
                       "Berlin": (0.15, ("Berlin",)),
                       "North Rhine-Westphalia": (0.30, ("Cologne", "Düsseldorf")),
                       "Hesse": (0.12, ("Frankfurt", "Wiesbaden")),
                       "Baden-Württemberg": (0.18, ("Stuttgart", "Karlsruhe"))}),
    "Canada": (0.25, {"Ontario": (0.45, ("Toronto", "Ottawa")),
                      "Quebec": (0.25, ("Montreal", "Quebec City")),
                      "British Columbia": (0.17, ("Vancouver", "Victoria")),
                      "Alberta": (0.13, ("Calgary", "Edmonton"))}),
    "Australia": (0.15, {"New South Wales": (0.38, ("Sydney", "Newcastle")),
                         "Victoria": (0.33, ("Melbourne", "Geelong")),
                         "Queensland": (0.20, ("Brisbane", "Gold Coast")),
                         "Western Australia": (0.09, ("Perth", "Fremantle"))}),
}

FIRST_NAMES = {
    "Female": ("Maria", "Emma", "Olivia", "Sophia", "Ava", "Isabella", "Mia", "Charlotte",
               "Amelia", "Harper", "Evelyn", "Abigail", "Emily", "Elizabeth", "Sofia", "Avery",
               "Ella", "Scarlett", "Grace", "Chloe", "Victoria", "Riley", "Aria", "Lily",
               "Zoey", "Hannah", "Nora", "Layla", "Priya", "Mei", "Aisha", "Fatima", "Keisha",
               "Rosa", "Ana", "Lucia", "Jennifer", "Linda", "Patricia", "Susan", "Karen",
               "Nancy", "Laura", "Megan", "Rachel", "Julia", "Hye-jin", "Yuki", "Ngozi"),
    "Male": ("James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph",
             "Thomas", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul",
             "Andrew", "Joshua", "Kevin", "Brian", "George", "Ethan", "Liam", "Noah", "Lucas",
             "Mason", "Logan", "Jacob", "Carlos", "Jose", "Luis", "Juan", "Wei", "Raj",
             "Arjun", "Omar", "Ahmed", "Kwame", "Hiroshi", "Min-jun", "Dmitri", "Ivan",
             "Tyrone", "Marcus", "Sean", "Patrick", "Samuel", "Aaron", "Diego"),
    "Other": ("Alex", "Jordan", "Taylor", "Morgan", "Casey", "Jamie", "Riley", "Quinn",
              "Avery", "Skyler", "Rowan", "Sage", "River", "Charlie", "Emerson", "Finley"),
}
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
              "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
              "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
              "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
              "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill",
              "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
              "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Wang", "Singh",
              "Okafor", "Mensah", "Kowalski", "Novak", "Schmidt", "Muller", "O'Brien",
              "Murphy", "Kelly", "Sullivan", "Cohen", "Rossi", "Silva", "Santos", "Tanaka",
              "Yamamoto", "Park", "Choi", "Ali", "Khan", "Hughes", "Evans", "Price", "Bennett",
              "Wood", "Brooks", "Reed", "Cooper", "Ward", "Peterson", "Gray", "James",
              "Watson", "Ruiz", "Diaz", "Ortiz", "Morales", "Reyes", "Cruz", "Foster")
STREETS = ("Oak", "Maple", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
           "Main", "Church", "High", "Walnut", "Sunset", "Willow", "Lincoln", "Jackson",
           "River", "Spring", "Meadow", "Forest", "Highland", "Chestnut", "Cherry", "Mill",
           "Franklin", "Madison", "Ridge", "Valley", "Birch", "Station", "Victoria", "King",
           "Queen", "Garden", "Orchard", "Harbor", "Prospect", "Jefferson", "Bay")
STREET_TYPES = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Boulevard", "Way",
                "Place", "Terrace")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

# category -> (brands, {product type: products})
CATALOGUE: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "Electronics": (("Samsung", "Sony", "Apple", "Lenovo", "Anker", "Bose"),
                    {"Smartphone": ("Galaxy A55", "iPhone 15", "Pixel 8"),
                     "Headphones": ("Noise-cancelling headphones", "Wireless earbuds",
                                    "Studio headphones"),
                     "Tablet": ("10-inch tablet", "Kids tablet", "Drawing tablet"),
                     "Smartwatch": ("Fitness smartwatch", "GPS running watch", "Smart band"),
                     "Accessories": ("USB-C charger", "Power bank", "Bluetooth speaker")}),
    "Clothing": (("Zara", "H&M", "Levi's", "Nike", "Adidas", "Uniqlo"),
                 {"Dress": ("Wrap dress", "Maxi dress", "Shirt dress"),
                  "Jeans": ("Slim jeans", "Straight-leg jeans", "Mom jeans"),
                  "Jacket": ("Denim jacket", "Rain jacket", "Puffer jacket"),
                  "Sweater": ("Cashmere sweater", "Cardigan", "Crew-neck sweater"),
                  "Top": ("Silk blouse", "Striped tee", "Linen shirt")}),
    "Books": (("Penguin Books", "HarperCollins", "Random House", "Simon & Schuster",
               "Macmillan"),
              {"Fiction": ("Literary novel", "Short stories", "Historical novel"),
               "Mystery": ("Detective novel", "Thriller", "Crime novel"),
               "Non-Fiction": ("Biography", "Popular science", "History book"),
               "Cookbook": ("Baking cookbook", "Vegetarian cookbook", "Weeknight recipes"),
               "Children": ("Picture book", "Young adult novel", "Activity book")}),
    "Home Decor": (("IKEA", "West Elm", "Pottery Barn", "Wayfair", "HomeGoods"),
                   {"Lighting": ("Table lamp", "Floor lamp", "String lights"),
                    "Textiles": ("Throw pillow", "Wool rug", "Duvet cover"),
                    "Wall Art": ("Framed print", "Wall mirror", "Canvas art"),
                    "Kitchen": ("Ceramic vase", "Serving bowl", "Cutting board"),
                    "Furniture": ("Side table", "Bookshelf", "Accent chair")}),
    "Grocery": (("Nestle", "Kellogg's", "Kraft", "PepsiCo", "Organic Valley"),
                {"Snacks": ("Granola bars", "Trail mix", "Potato chips"),
                 "Beverages": ("Ground coffee", "Green tea", "Sparkling water"),
                 "Pantry": ("Olive oil", "Pasta sauce", "Basmati rice"),
                 "Breakfast": ("Oat cereal", "Maple syrup", "Peanut butter"),
                 "Dairy": ("Greek yogurt", "Cheddar cheese", "Oat milk")}),
}
SHIPPING = (("Standard", 0.5), ("Express", 0.3), ("Same-Day", 0.2))
PAYMENT = (("Credit Card", 0.4), ("Debit Card", 0.25), ("PayPal", 0.25), ("Cash", 0.1))
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")

RETAIL_COLUMNS: tuple[str, ...] = (
    "Transaction_ID", "Customer_ID", "Name", "Email", "Phone", "Address", "City", "State",
    "Zipcode", "Country", "Age", "Gender", "Income", "Customer_Segment", "Date", "Year",
    "Month", "Time", "Total_Purchases", "Amount", "Total_Amount", "Product_Category",
    "Product_Brand", "Product_Type", "Feedback", "Shipping_Method", "Payment_Method",
    "Order_Status", "Ratings", "products",
)
CUSTOMER_COLUMNS = ("customer_id", "name", "email", "phone", "address", "city", "zipcode",
                    "state", "country", "age", "gender", "income")
TRANSACTION_COLUMNS = ("transaction_id", "customer_id", "date", "quantity", "amount", "total",
                       "category")
RATING_NOISE_SD = 0.75
REVIEW_COLUMNS = ("review_id", "customer_id", "date", "text", "rating")
INVALID_REASONS = ("amount", "date", "customer_id", "negative_total")
# Never NA tokens ("N/A", "null"): a missing total next to a valid amount and quantity could
# legitimately be recomputed, so it would not be an invalid row.
BAD_NUMBERS = ("twelve", "12..5", "1O.99", "abc", "$--", "ten dollars", "#REF!", "1.2.3")
BAD_DATES = ("2026-13-45", "yesterday", "31/31/2026", "not a date", "2026-02-30", "00/00/0000",
             "last Tuesday", "2026/19/40")

# --------------------------------------------------------------------------- review text

# The noun a reviewer uses for each product of CATALOGUE (same order: type by type).
ITEMS = {
    "Electronics": ("phone", "phone", "phone", "headset", "pair of earbuds", "headset",
                    "tablet", "tablet", "drawing tablet", "smartwatch", "running watch",
                    "fitness band", "charger", "power bank", "speaker"),
    "Clothing": ("wrap dress", "maxi dress", "shirt dress", "pair of jeans", "pair of jeans",
                 "pair of jeans", "denim jacket", "rain jacket", "puffer jacket", "sweater",
                 "cardigan", "sweater", "blouse", "tee", "shirt"),
    "Books": ("novel", "short story collection", "novel", "thriller", "thriller", "crime novel",
              "biography", "science book", "history book", "cookbook", "cookbook", "cookbook",
              "picture book", "novel", "activity book"),
    "Home Decor": ("table lamp", "floor lamp", "set of string lights", "throw pillow", "rug",
                   "duvet cover", "framed print", "mirror", "canvas print", "vase",
                   "serving bowl", "cutting board", "side table", "bookshelf", "chair"),
    "Grocery": ("box of granola bars", "trail mix", "bag of chips", "coffee", "tea",
                "sparkling water", "olive oil", "pasta sauce", "rice", "cereal", "maple syrup",
                "peanut butter", "yogurt", "cheese", "oat milk"),
}
# Real clothing reviews name the garment: the reviewed row's product type follows the text.
_REAL_TYPE_PATTERNS = (("Dress", r"\bdress"), ("Jeans", r"\b(?:jeans|pants|denim|trousers)\b"),
                       ("Jacket", r"\b(?:jacket|coat)\b"),
                       ("Sweater", r"\b(?:sweater|cardigan|pullover)\b"),
                       ("Top", r"\b(?:top|shirt|blouse|tee|tunic)\b"))
# Aspect sentences: (aspect, positive, negative). "{item}" is the product noun.
_GENERAL_ASPECTS = (
    ("quality", ("The quality is excellent for the money.", "Really well made, it feels solid.",
                 "Build quality is better than I expected.", "The {item} feels like it will last for years."),
     ("The quality is poor and it feels cheap.", "It broke after a week.",
      "Not the quality I expected from this brand.", "The {item} looks nothing like the quality in the photos.")),
    ("price", ("Great value for the price.", "Worth every penny.", "Not cheap, but worth it.",
               "For this price you can't go wrong."),
     ("Not worth the price.", "Way overpriced for what you get.",
      "Too expensive for this quality.", "You can find a better {item} for half the price.")),
    ("shipping", ("Shipping was fast.", "It arrived two days early.", "Fast shipping and no issues at all."),
     ("Shipping took forever.", "It arrived a week late.",
      "Shipping was slow and the tracking never updated.")),
    ("delivery", ("Delivery was quick and the driver was friendly.", "It arrived on time, exactly as promised."),
     ("The delivery was left out in the rain.", "Delivery was late and the box was crushed.",
      "The courier said it was delivered but it wasn't.")),
    ("customer service", ("Customer service answered my question within an hour.",
                          "Support was friendly and helpful when I needed to change my order."),
     ("Customer service never answered my emails.", "Support was rude and unhelpful.",
      "I'm still waiting for a refund, customer service keeps ignoring me.")),
    ("packaging", ("Nicely packaged, nothing was damaged.", "The packaging was neat and recyclable."),
     ("The packaging was damaged when it arrived.", "It came in a torn bag with no protection.")),
)
_CATEGORY_ASPECTS = {
    "Clothing": (
        ("fit", ("It fits perfectly.", "The fit is true to size.", "It fits like it was made for me."),
         ("It didn't fit at all.", "The fit is awkward and boxy.", "Runs small, I couldn't zip it up.")),
        ("size", ("I ordered my usual size and it was spot on.", "The sizing chart was accurate."),
         ("The sizing is way off.", "I ordered a medium and got something closer to an XS.")),
        ("fabric", ("The fabric is soft and doesn't wrinkle.", "Lovely material, it feels expensive."),
         ("The fabric is thin and see-through.", "Scratchy material, not comfortable at all.",
          "The seams came apart after one wash.")),
        ("colour", ("The colour is exactly like the photos.", "Gorgeous colour, even nicer in person."),
         ("The colour looks nothing like the picture.", "The colour faded after two washes.")),
    ),
    "Electronics": (
        ("battery", ("The battery lasts all day.", "Battery life is better than advertised."),
         ("The battery dies in two hours.", "It won't hold a charge anymore.")),
        ("sound", ("The sound is crisp and clear.", "Sound quality is amazing for the size."),
         ("The sound is tinny and distorts at high volume.", "It doesn't connect to my phone half the time.")),
        ("setup", ("Setup took five minutes.", "It was easy to set up, no manual needed."),
         ("Setup was a nightmare and the app kept crashing.", "It didn't work out of the box.")),
    ),
    "Books": (
        ("content", ("I couldn't put it down.", "Beautifully written, I loved every chapter."),
         ("Boring, I didn't finish it.", "The story goes nowhere and the ending is flat.")),
        ("print", ("The print and paper are lovely.", "The binding is sturdy and the pages are crisp."),
         ("Several pages were missing.", "The print is tiny and blurry.")),
    ),
    "Home Decor": (
        ("colour", ("The colour matches my living room perfectly.", "It looks even better in person."),
         ("The colour is much darker than shown.", "It looks cheap in person.")),
        ("size", ("The size is just right for my shelf.", "Bigger than I expected, in a good way."),
         ("It is much smaller than it looks online.", "The size is wrong for a standard bed.")),
    ),
    "Grocery": (
        ("taste", ("It tastes great.", "Fresh and full of flavour, my kids love it."),
         ("It tastes stale.", "The flavour is bland and artificial.")),
        ("freshness", ("Everything arrived fresh.", "Best before date was months away."),
         ("It was past the best before date.", "Half of it arrived squashed and warm.")),
    ),
}
_OPENERS = {
    "positive": ("Love this {item}!", "Absolutely love it.", "Five stars from me.",
                 "Really happy with this {item}.", "Great {item}.", "So glad I bought this.",
                 "Exactly what I wanted.", "This is my second one and I still love it.",
                 "I was not disappointed.", "Couldn't be happier with this {item}."),
    "neutral": ("Mixed feelings about this {item}.", "It's okay.", "Hmm, not sure about this one.",
                "Average at best.", "It's an okay {item}.", "Decent {item}, nothing more."),
    "negative": ("Very disappointed.", "Do not buy this {item}.", "Terrible {item}.",
                 "What a waste of money.", "I really wanted to like this {item}.",
                 "Not happy at all.", "Returned it the same day.", "Worst purchase this year."),
}
_NEUTRAL_BODY = ("It's fine, nothing special.", "Average {item}, it does the job.",
                 "Not bad, not great.", "It's fine for the price.",
                 "Decent, but I expected a bit more.", "Pretty standard {item}.",
                 "It works as described, no more, no less.", "I might keep it, I might return it.")
_CLOSERS = {
    "positive": ("Would definitely buy again.", "Highly recommend it.", "I will order more.",
                 "Already recommended it to my sister.", "No complaints at all."),
    "neutral": ("Might buy again if it's on sale.", "Probably won't reorder but it's fine.",
                "Keeping it for now.", "It's okay if you don't expect much."),
    "negative": ("Would not recommend.", "Returning it.", "Never ordering from here again.",
                 "Won't buy this again.", "Save your money."),
}
# Mixed opinions: a praised and a criticised clause on different topics.
_MIXED_POS = ("I love the colour", "the quality is good", "it looks great", "the price was right",
              "shipping was fast", "the design is nice", "it works fine", "the packaging was lovely")
_MIXED_POS_TOPIC = (0, 1, 2, 3, 4, 2, 5, 6)
_MIXED_NEG = ("the seams came apart", "it runs small", "shipping took ages",
              "customer service was slow to reply", "the packaging was a mess",
              "it's a bit overpriced", "it stopped working after a month", "the box was damaged")
_MIXED_NEG_TOPIC = (1, 7, 4, 8, 6, 3, 5, 6)
# Clauses that only fit some categories (by index in CATEGORIES); the others fit all.
_MIXED_POS_ONLY = {0: (0, 1, 3), 6: (0,)}
_MIXED_NEG_ONLY = {0: (1,), 1: (1,), 6: (0,)}
_MISSPELLINGS = (("received", "recieved"), ("definitely", "definately"), ("quality", "qualty"),
                 ("really", "realy"), ("because", "becuase"), ("the ", "teh "),
                 ("would", "woudl"), ("recommend", "reccomend"), ("expected", "expeted"),
                 ("great", "graet"), ("disappointed", "dissapointed"), ("arrived", "arived"))
_PII_TEMPLATES_EMAIL = ("If you have questions email me at {email}.",
                        "Contact me at {email} about the refund.",
                        "The seller can reach me at {email} anytime.")
_PII_TEMPLATES_PHONE = ("Call me at {phone} if the replacement ships.",
                        "Text me at {phone}, nobody called me back.",
                        "My number is {phone} if customer service wants to fix this.")


def _words(text: str) -> int:
    return len(text.split())


# --------------------------------------------------------------------------- helpers

def _alloc(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total by weights with the largest-remainder method (exact, deterministic)."""
    weights = np.asarray(weights, dtype=float)
    raw = total * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    if rest > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:rest]] += 1
    return counts


def _choice(rng: np.random.Generator, options: tuple, probs: tuple | np.ndarray, n: int) -> np.ndarray:
    arr = np.empty(len(options), dtype=object)
    arr[:] = list(options)
    return arr[rng.choice(len(options), size=n, p=np.asarray(probs) / np.sum(probs))]


def _obj(values: list | tuple) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


try:  # pandas >= 3: the default string dtype
    _STR = pd.StringDtype("pyarrow", na_value=np.nan)
except TypeError:  # pragma: no cover - pandas 2.x
    _STR = pd.StringDtype("pyarrow")


def _col(values: np.ndarray, idx: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A string column built in Arrow (``values[idx]``; None stays missing).

    Taking a per-customer array row by row in Arrow is ~10x faster than letting pandas
    convert millions of Python strings.
    """
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    if idx is not None:
        arr = arr.take(pa.array(idx))
    return pd.array(arr, dtype=_STR)


def _load_real_reviews() -> dict[int, np.ndarray]:
    """The bundled CC0 review sample, texts grouped by star rating."""
    path = resources.files("segment_report.pipeline") / "data" / "clothing_reviews_sample.csv"
    with resources.as_file(path) as p:
        df = pd.read_csv(p, dtype={"text": str, "rating": int}, keep_default_na=False)
    return {r: _obj(df.loc[df["rating"] == r, "text"].tolist()) for r in range(1, 6)}


def _label(rating: np.ndarray) -> np.ndarray:
    return np.where(rating <= 2, "negative", np.where(rating == 3, "neutral", "positive"))


# --------------------------------------------------------------------------- customers

def _make_customers(cfg: GenerateConfig, rng: np.random.Generator, n_cust: int,
                    personas: tuple[Persona, ...]) -> dict[str, np.ndarray]:
    """Per-customer latent traits and personal attributes."""
    counts = _alloc(n_cust, np.array([p.weight for p in personas]))
    pid = rng.permutation(np.repeat(np.arange(len(personas)), counts))
    par = {k: np.array([getattr(p, k) for p in personas], dtype=float)[pid]
           for k in ("age_mean", "age_sd", "sentiment_mean", "sentiment_sd", "price_level")}

    age = np.clip(np.rint(rng.normal(par["age_mean"], par["age_sd"])), 18, 85).astype(np.int64)
    gender_idx = np.empty(n_cust, dtype=np.int64)
    income_idx = np.empty(n_cust, dtype=np.int64)
    mix = np.empty((n_cust, len(CATEGORIES)))
    first = np.empty(n_cust)
    last = np.empty(n_cust)
    for k, p in enumerate(personas):
        m = pid == k
        n = int(m.sum())
        gender_idx[m] = rng.choice(3, size=n, p=p.gender_probs)
        income_idx[m] = rng.choice(3, size=n, p=p.income_probs)
        mix[m] = rng.dirichlet(np.array(p.category_mix) * p.mix_concentration, size=n)
        first[m] = rng.uniform(*p.first_order, size=n)
        last[m] = rng.uniform(*p.last_order, size=n)

    # Countries and regions.
    is_us = rng.random(n_cust) >= cfg.non_us_share
    country = np.full(n_cust, "USA", dtype=object)
    state_code = np.full(n_cust, None, dtype=object)
    region = np.empty(n_cust, dtype=object)
    city = np.empty(n_cust, dtype=object)
    codes = _obj(list(STATE_POPULATION))
    pops = np.array(list(STATE_POPULATION.values()))
    us_idx = np.flatnonzero(is_us)
    st = codes[rng.choice(len(codes), size=us_idx.size, p=pops / pops.sum())]
    state_code[us_idx] = st
    region[us_idx] = [CODE_TO_NAME[c] for c in st]
    pick = rng.integers(0, 2, size=us_idx.size)
    city[us_idx] = [STATE_CITIES[c][j] for c, j in zip(st, pick)]
    foreign_idx = np.flatnonzero(~is_us)
    names = list(FOREIGN)
    ctry = _obj(names)[rng.choice(len(names), size=foreign_idx.size,
                                  p=np.array([FOREIGN[c][0] for c in names]))]
    country[foreign_idx] = ctry
    for c in names:
        idx = foreign_idx[ctry == c]
        regions = FOREIGN[c][1]
        rnames = list(regions)
        r = _obj(rnames)[rng.choice(len(rnames), size=idx.size,
                                    p=np.array([regions[x][0] for x in rnames]))]
        region[idx] = r
        u = rng.random(idx.size)
        city[idx] = [regions[x][1][int(v * len(regions[x][1]))] for x, v in zip(r, u)]

    # Latent sentiment: persona mean + noise + planted state shift.
    shift = np.zeros(n_cust)
    shift[np.isin(state_code, HIGH_SENTIMENT_STATES)] = cfg.state_sentiment_shift
    shift[np.isin(state_code, LOW_SENTIMENT_STATES)] = -cfg.state_sentiment_shift
    sentiment = np.clip(rng.normal(par["sentiment_mean"], par["sentiment_sd"]) + shift, 0.02, 0.98)

    # Personal data (fake: reserved e-mail domains, 555 phone numbers).
    gender = _obj(GENDERS)[gender_idx]
    first_names = np.empty(n_cust, dtype=object)
    for g, gname in enumerate(GENDERS):
        m = gender_idx == g
        first_names[m] = _obj(FIRST_NAMES[gname])[rng.integers(0, len(FIRST_NAMES[gname]), m.sum())]
    last_names = _obj(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n_cust)]
    full = [f"{a} {b}" for a, b in zip(first_names, last_names)]
    # A unique number per customer makes every e-mail address unique.
    nums = rng.permutation(n_cust * 4)[:n_cust] + 1
    seps = _obj((".", "_", ""))[rng.choice(3, size=n_cust, p=(0.6, 0.2, 0.2))]
    doms = _obj(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), n_cust)]
    email = [f"{a.lower()}{s}{b.lower().replace(chr(39), '')}{k}@{d}".replace("-", "")
             for a, s, b, k, d in zip(first_names, seps, last_names, nums, doms)]
    d3 = rng.integers(200, 1000, n_cust)
    d4 = rng.integers(0, 10000, n_cust)
    phone = np.empty(n_cust, dtype=object)
    phone[:] = [f"(555) {a:03d}-{b:04d}" for a, b in zip(d3, d4)]
    for c, fmt in (("UK", "+44 20 7946 0{:03d}"), ("Germany", "+49 30 5550{:04d}"),
                   ("Australia", "+61 2 5550 {:04d}")):
        m = np.flatnonzero(country == c)
        phone[m] = [fmt.format(int(b) % (1000 if c == "UK" else 10000)) for b in d4[m]]
    house = rng.integers(1, 9999, n_cust)
    street = _obj(STREETS)[rng.integers(0, len(STREETS), n_cust)]
    stype = _obj(STREET_TYPES)[rng.integers(0, len(STREET_TYPES), n_cust)]
    address = [f"{h} {s} {t}" for h, s, t in zip(house, street, stype)]
    zipcode = np.empty(n_cust, dtype=object)
    z = rng.integers(0, 10000, n_cust)
    zipcode[us_idx] = [f"{ZIP_AREA[c]}{v:04d}" for c, v in zip(st, z[us_idx])]
    letters = np.array(list("ABCDEFGHJKLMNPRSTUVWXY"))
    for c in FOREIGN:
        m = np.flatnonzero(country == c)
        if c == "UK":
            lt = letters[rng.integers(0, len(letters), (m.size, 4))]
            zipcode[m] = [f"{a}{b}{v % 9 + 1} {v % 10}{d}{e}" for (a, b, d, e), v in zip(lt, z[m])]
        elif c == "Canada":
            lt = letters[rng.integers(0, len(letters), (m.size, 3))]
            zipcode[m] = [f"{a}{v % 10}{b} {v // 10 % 10}{d}{v // 100 % 10}" for (a, b, d), v in zip(lt, z[m])]
        elif c == "Germany":
            zipcode[m] = [f"{10000 + v * 8:05d}" for v in z[m]]
        else:
            zipcode[m] = [f"{2000 + v % 7000:04d}" for v in z[m]]

    income_num = np.empty(n_cust)
    for b, (lo, hi) in enumerate(INCOME_RANGES):
        m = income_idx == b
        income_num[m] = np.round(rng.uniform(lo, hi, m.sum()), -3)
    income_num = np.clip(income_num, None, INCOME_RANGES[2][1])
    # Avoid band edges landing in the neighbouring band after rounding.
    income_num[income_idx == 0] = np.minimum(income_num[income_idx == 0], 39_000)
    income_num[income_idx == 1] = np.clip(income_num[income_idx == 1], 40_000, 99_000)
    income_num[income_idx == 2] = np.maximum(income_num[income_idx == 2], 100_000)

    ids = rng.choice(np.arange(10_000, 10_000 + 9 * n_cust + 100_000), size=n_cust, replace=False)
    return {
        "customer_id": _obj([str(i) for i in ids]), "persona_id": pid, "sentiment": sentiment,
        "age": age, "gender": gender, "income_band": _obj(INCOME_BANDS)[income_idx],
        "income": income_num, "country": country, "state_code": state_code, "region": region,
        "city": city, "name": _obj(full), "email": _obj(email), "phone": phone,
        "address": _obj(address), "zipcode": zipcode, "mix": mix, "first": first, "last": last,
        "price_level": par["price_level"], "is_us": is_us,
    }


# --------------------------------------------------------------------------- transactions

def _make_transactions(cfg: GenerateConfig, rng: np.random.Generator, cust: dict,
                       personas: tuple[Persona, ...], n_days: int) -> dict[str, np.ndarray]:
    """Orders per customer, dates, categories, quantities and prices, sorted by date and time."""
    n_cust = cust["customer_id"].size
    n_tx = cfg.n_transactions
    pid = cust["persona_id"]
    orders_mean = np.array([p.orders_mean for p in personas])[pid]
    one_time = np.array([p.one_time_share for p in personas])[pid]
    # Regular customers order at least twice in the window; one-time buyers are a small,
    # planted minority (a whole persona for "New Premium Shoppers").
    base = 1 + (rng.random(n_cust) >= one_time).astype(np.int64)
    if base.sum() > n_tx:
        base[:] = 1
    # Gamma-Poisson orders, conditioned on the exact total through one multinomial draw.
    lam = rng.gamma(4.0, np.maximum(orders_mean - 1.0 - (1.0 - one_time), 0.05) / 4.0)
    counts = base + rng.multinomial(n_tx - int(base.sum()), lam / lam.sum())
    cidx = np.repeat(np.arange(n_cust), counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(n_tx) - starts[cidx]

    start_day = np.floor(cust["first"] * (n_days - 1))
    stop_day = np.maximum(start_day, np.floor(cust["last"] * (n_days - 1)))
    u = rng.random(n_tx)
    multi = counts[cidx] >= 2
    u[multi & (pos == 0)] = 0.0
    u[multi & (pos == counts[cidx] - 1)] = 1.0
    # A one-order customer buys late in their active span, so recency stays true to persona.
    u[~multi] = 0.6 + 0.4 * u[~multi]
    day = np.rint(start_day[cidx] + u * (stop_day - start_day)[cidx]).astype(np.int64)
    secs = rng.integers(7 * 3600, 23 * 3600 + 3599, n_tx)

    cum = np.cumsum(cust["mix"], axis=1)[cidx]
    cat = np.minimum((rng.random(n_tx)[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1)
    basket = np.array([p.basket_mean for p in personas])[pid][cidx]
    qty = np.minimum(1 + rng.poisson(basket - 1.0), 10)
    sigma = np.array([p.price_sigma for p in personas])[pid][cidx]
    beta = 10.0 * math.log1p(cfg.sentiment_spend_pct / 100.0)
    spend_mult = np.exp(beta * (cust["satisfaction"] - 0.5))[cidx]
    price = (np.array(CATEGORY_BASE_PRICE)[cat] * cust["price_level"][cidx] * spend_mult
             * rng.lognormal(0.0, sigma))
    amount = np.maximum(np.round(price, 2), 0.5)
    total = np.round(amount * qty, 2)

    order = np.lexsort((secs, day))
    out = {"cidx": cidx, "day": day, "secs": secs, "cat": cat, "qty": qty, "amount": amount,
           "total": total}
    out = {k: v[order] for k, v in out.items()}
    n = n_tx
    type_idx = rng.integers(0, 5, n)
    prod_idx = rng.integers(0, 3, n)
    brand_idx = rng.integers(0, 6, n)
    brand = np.empty(n, dtype=object)
    ptype = np.empty(n, dtype=object)
    product = np.empty(n, dtype=object)
    for c, name in enumerate(CATEGORIES):
        m = out["cat"] == c
        brands, types = CATALOGUE[name]
        tnames = list(types)
        brand[m] = _obj(brands)[brand_idx[m] % len(brands)]
        ptype[m] = _obj(tnames)[type_idx[m]]
        table = np.array([[types[t][j] for j in range(3)] for t in tnames], dtype=object)
        product[m] = table[type_idx[m], prod_idx[m]]
    out.update(brand=brand, ptype=ptype, product=product, type_idx=type_idx, prod_idx=prod_idx,
               shipping=_choice(rng, *zip(*SHIPPING), n=n),
               payment=_choice(rng, *zip(*PAYMENT), n=n))
    recent = out["day"] >= n_days - 4
    status = np.full(n, "Delivered", dtype=object)
    status[recent] = _choice(rng, ("Processing", "Shipped", "Delivered"), (0.3, 0.4, 0.3),
                             int(recent.sum()))
    out["status"] = status
    out["counts"] = counts
    return out


# --------------------------------------------------------------------------- reviews

def _text_bank(label: str, kind: str) -> np.ndarray:
    """Sentences for one slot, shape (category, item, k), with the product noun filled in."""
    per_cat: list[list[str]] = []
    for name in CATEGORIES:
        if kind == "aspect":
            general = tuple(a for a in _GENERAL_ASPECTS
                            if not (name == "Grocery" and a[0] == "quality"))
            aspects = general + _CATEGORY_ASPECTS.get(name, ())
            # Category-specific aspects twice so clothing reviews talk about fit and fabric.
            aspects = aspects + _CATEGORY_ASPECTS.get(name, ())
            pool = [s for _, pos, neg in aspects for s in (pos if label == "positive" else neg)]
        elif kind == "opener":
            pool = list(_OPENERS[label])
        elif kind == "closer":
            pool = list(_CLOSERS[label])
        else:  # neutral body
            pool = list(_NEUTRAL_BODY)
        per_cat.append(pool)
    width = max(len(p) for p in per_cat)
    bank = np.empty((len(CATEGORIES), len(ITEMS["Books"]), width), dtype=object)
    assert all(len(v) == len(ITEMS["Books"]) for v in ITEMS.values())
    for c, name in enumerate(CATEGORIES):
        pool = per_cat[c]
        for i, item in enumerate(ITEMS[name]):
            for k in range(width):
                bank[c, i, k] = pool[k % len(pool)].replace("{item}", item)
    return bank


def _typo(text: str, rng: np.random.Generator) -> str:
    """One realistic typo: a common misspelling if one applies, else two swapped letters."""
    lower = text.lower()
    options = [pair for pair in _MISSPELLINGS if pair[0] in lower]
    if options and rng.random() < 0.6:
        right, wrong = options[int(rng.integers(len(options)))]
        i = lower.find(right)
        return text[:i] + wrong + text[i + len(right):]
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long_words:
        return text
    i = long_words[int(rng.integers(len(long_words)))]
    w = words[i]
    j = int(rng.integers(1, len(w) - 2))
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _compose(rng: np.random.Generator, labels: np.ndarray, cats: np.ndarray,
             item: np.ndarray) -> np.ndarray:
    """Compose review texts for the given labels, category and product indices (vectorised)."""
    n = labels.size
    parts: list[np.ndarray] = []
    empty = np.full(n, "", dtype=object)

    def pick(bank: np.ndarray, mask: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
        out = empty.copy()
        width = bank.shape[2]
        k = rng.integers(0, width, n) if offset is None else offset % width
        out[mask] = bank[cats[mask], item[mask], k[mask]]
        return out

    banks = {(lab, kind): _text_bank(lab, kind) for lab in ("positive", "neutral", "negative")
             for kind in ("opener", "closer")}
    aspect = {lab: _text_bank(lab, "aspect") for lab in ("positive", "negative")}
    neutral_body = _text_bank("neutral", "body")
    r = rng.random((n, 8))
    k0 = rng.integers(0, 10_000, n)
    for lab in ("positive", "neutral", "negative"):
        m = labels == lab
        if not m.any():
            continue
        opener = pick(banks[(lab, "opener")], m & (r[:, 0] < 0.7))
        closer = pick(banks[(lab, "closer")], m & (r[:, 1] < 0.55))
        if lab == "neutral":
            body = [pick(neutral_body, m),
                    pick(aspect["positive"], m & (r[:, 2] < 0.35)),
                    pick(aspect["negative"], m & (r[:, 3] < 0.35))]
            mixed_mask = m
        else:
            n_body = 1 + (r[:, 2] < 0.6) + (r[:, 3] < 0.3)
            body = [pick(aspect[lab], m & (n_body > j), k0 + j * 7 + j) for j in range(3)]
            mixed_mask = m & (r[:, 4] < 0.2)
        mixed = empty.copy()
        mi = np.flatnonzero(mixed_mask)
        if mi.size:
            ai = rng.integers(0, len(_MIXED_POS), mi.size)
            bi = rng.integers(0, len(_MIXED_NEG), mi.size)
            ci = cats[mi]
            for k, allowed in _MIXED_POS_ONLY.items():
                ai[(ai == k) & ~np.isin(ci, allowed)] = _MIXED_POS.index("the price was right")
            for k, allowed in _MIXED_NEG_ONLY.items():
                bi[(bi == k) & ~np.isin(ci, allowed)] = _MIXED_NEG.index("the box was damaged")
            clash = np.array(_MIXED_POS_TOPIC)[ai] == np.array(_MIXED_NEG_TOPIC)[bi]
            bi[clash] = _MIXED_NEG.index("customer service was slow to reply")
            a = _obj(_MIXED_POS)[ai]
            b = _obj(_MIXED_NEG)[bi]
            if lab == "negative":
                mixed[mi] = [f"Sure, {x}, but {y}." for x, y in zip(a, b)]
            else:
                joiner = _obj((" but ", ", although ", ", only "))[rng.integers(0, 3, mi.size)]
                mixed[mi] = [f"{x[0].upper()}{x[1:]}{j}{y}." for x, j, y in zip(a, joiner, b)]
        parts.append((m, [opener, *body, mixed, closer]))

    texts = np.empty(n, dtype=object)
    for m, order in parts:
        idx = np.flatnonzero(m)
        cols = [o[idx] for o in order]
        texts[idx] = [" ".join(s for s in row if s) for row in zip(*cols)]
    # Informal writing: some reviewers type in lower case, some make typos.
    low = np.flatnonzero(r[:, 6] < 0.08)
    texts[low] = [t.lower() for t in texts[low]]
    typo = np.flatnonzero(r[:, 7] < 0.10)
    texts[typo] = [_typo(t, rng) for t in texts[typo]]
    return texts


def review_noise_sd(cfg: GenerateConfig) -> float:
    """Per-review rating noise (stars): what is left of the total 0.75 once the customer's
    satisfaction deviation (``4 * satisfaction_sd`` stars) is taken out."""
    return math.sqrt(max(0.0, RATING_NOISE_SD ** 2 - (4.0 * cfg.satisfaction_sd) ** 2))


def _make_reviews(cfg: GenerateConfig, rng: np.random.Generator, cust: dict, tx: dict,
                  n_days: int) -> dict[str, np.ndarray]:
    """Pick the reviewed transactions; rating from latent sentiment; real or composed text."""
    n_tx = tx["day"].size
    n_rev = int(round(cfg.review_share * n_tx))
    ridx = np.sort(rng.choice(n_tx, size=n_rev, replace=False))
    s = cust["satisfaction"][tx["cidx"][ridx]]
    rating = np.clip(np.rint(1 + 4 * s + rng.normal(0, review_noise_sd(cfg), n_rev)), 1, 5).astype(np.int64)
    labels = _label(rating)
    cats = tx["cat"][ridx]
    texts = _compose(rng, labels, cats, tx["type_idx"][ridx] * 3 + tx["prod_idx"][ridx])
    source = np.full(n_rev, "composed", dtype=object)
    real = _load_real_reviews()
    use_real = (cats == CATEGORIES.index("Clothing")) & (rng.random(n_rev) < cfg.real_text_share)
    pick = rng.integers(0, 1 << 30, n_rev)
    for r in range(1, 6):
        m = use_real & (rating == r)
        texts[m] = real[r][pick[m] % real[r].size]
        source[m] = "real"
    # The reviewed row's product type follows the garment the real text talks about.
    real_pos = np.flatnonzero(use_real)
    types = CATALOGUE["Clothing"][1]
    found = np.zeros(real_pos.size, dtype=bool)
    lowered = pd.Series(texts[real_pos], dtype=object).str.lower()
    for t_name, pattern in _REAL_TYPE_PATTERNS:
        m = ~found & lowered.str.contains(pattern, regex=True).to_numpy()
        rows = ridx[real_pos[m]]
        tx["ptype"][rows] = t_name
        tx["product"][rows] = _obj(types[t_name])[tx["prod_idx"][rows]]
        found |= m
    # Planted PII: the customer's own e-mail or phone number in ~pii_text_share of texts.
    n_pii = int(round(cfg.pii_text_share * n_rev))
    pii_pos = np.sort(rng.choice(n_rev, size=n_pii, replace=False)) if n_pii else np.array([], int)
    pii_kind = _obj(("email", "phone"))[rng.integers(0, 2, n_pii)]
    tmpl = rng.integers(0, 3, n_pii)
    has_pii = np.zeros(n_rev, dtype=bool)
    has_pii[pii_pos] = True
    for p, kind, t in zip(pii_pos, pii_kind, tmpl):
        c = tx["cidx"][ridx[p]]
        if kind == "email":
            extra = _PII_TEMPLATES_EMAIL[t].format(email=cust["email"][c])
        else:
            extra = _PII_TEMPLATES_PHONE[t].format(phone=cust["phone"][c])
        texts[p] = f"{texts[p]} {extra}"
    review_day = np.minimum(tx["day"][ridx] + rng.integers(0, 15, n_rev), n_days - 1)
    return {"tx_pos": ridx, "rating": rating, "label": labels, "text": texts, "source": source,
            "has_pii": has_pii, "pii_kind": pii_kind, "pii_pos": pii_pos, "day": review_day}


# --------------------------------------------------------------------------- mess

def _date_strings(start: pd.Timestamp, n_days: int) -> dict[str, np.ndarray]:
    days = pd.date_range(start, periods=n_days, freq="D")
    return {
        "iso": _obj([d.strftime("%Y-%m-%d") for d in days]),
        "us": _obj([f"{d.month}/{d.day}/{d.year}" for d in days]),
        "short": _obj([d.strftime("%m-%d-%y") for d in days]),
    }


def _messy_dates(rng: np.random.Generator, day: np.ndarray, table: dict) -> np.ndarray:
    fmt = rng.choice(3, size=day.size, p=(0.5, 0.3, 0.2))
    out = table["iso"][day].copy()
    out[fmt == 1] = table["us"][day[fmt == 1]]
    out[fmt == 2] = table["short"][day[fmt == 2]]
    return out


def _messy_states(rng: np.random.Generator, names: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """US states as names, codes, odd case and stray spaces; other regions get stray spaces."""
    out = names.copy()
    v = rng.choice(7, size=names.size, p=(0.45, 0.15, 0.1, 0.1, 0.08, 0.07, 0.05))
    us = pd.notna(codes)
    for k, fn in ((1, lambda s, c: c), (2, lambda s, c: s.lower()),
                  (3, lambda s, c: f"  {s.upper()} "), (4, lambda s, c: f"{s} "),
                  (5, lambda s, c: c.lower()), (6, lambda s, c: s.upper())):
        idx = np.flatnonzero((v == k) & us)
        out[idx] = [fn(s, c) for s, c in zip(names[idx], codes[idx])]
    idx = np.flatnonzero((v >= 3) & ~us)
    out[idx] = [f" {s} " for s in names[idx]]
    return out


def _messy_case(rng: np.random.Generator, values: np.ndarray, share: float = 0.2) -> np.ndarray:
    """Lower / upper case and stray whitespace on a share of the values (missing kept missing)."""
    out = values.copy()
    v = rng.choice(4, size=values.size, p=(1 - share, share / 3, share / 3, share / 3))
    for k, fn in ((1, str.lower), (2, str.upper), (3, lambda s: f" {s} ")):
        idx = np.flatnonzero((v == k) & pd.notna(values))
        out[idx] = [fn(s) for s in values[idx]]
    return out


def _messy_country(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    out = _messy_case(rng, country, 0.15)
    us = np.flatnonzero((country == "USA") & (rng.random(country.size) < 0.1))
    out[us] = _obj(("United States", "US", "usa"))[rng.integers(0, 3, us.size)]
    return out


def _money(rng: np.random.Generator, values: np.ndarray, share: float = 0.12) -> np.ndarray:
    """Numbers as text; a share with a currency symbol and thousands separators."""
    cents = np.rint(np.asarray(values) * 100).astype(np.int64)
    # Formatting in Arrow: a Python or numpy "%.2f" over millions of values takes seconds.
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    text = pc.binary_join_element_wise(pc.cast(pa.array(cents // 100), pa.string()), frac, ".")
    out = text.to_numpy(zero_copy_only=False).astype(object)
    idx = np.flatnonzero(rng.random(values.size) < share)
    out[idx] = [f"${v:,.2f}" for v in values[idx]]
    return out


def _blank_customers(rng: np.random.Generator, n_cust: int, share: float = 0.03) -> dict[str, np.ndarray]:
    """Customers whose age, gender or income is unknown (the same on all their rows)."""
    return {k: rng.random(n_cust) < share for k in ("age", "gender", "income")}


def _inject(rng: np.random.Generator, df: pd.DataFrame, candidates: np.ndarray, n_dup: int,
            invalid: pd.DataFrame) -> pd.DataFrame:
    """Append exact duplicates of candidate rows and the invalid rows, shuffled among themselves."""
    dup_src = np.sort(rng.choice(candidates, size=min(n_dup, candidates.size), replace=False))
    extra = pd.concat([df.iloc[dup_src], invalid], ignore_index=True)
    extra = extra.iloc[rng.permutation(len(extra))]
    return pd.concat([df, extra], ignore_index=True)


def _invalid_rows(rng: np.random.Generator, df: pd.DataFrame, n_invalid: int, id_col: str,
                  cust_col: str, date_col: str, total_col: str, amount_col: str,
                  next_id: int, retail: bool, blank_cols: tuple[str, ...]) -> tuple[pd.DataFrame, dict]:
    """Extra rows copied from valid ones with a new id and exactly one problem each."""
    per_reason = _alloc(n_invalid, np.ones(len(INVALID_REASONS)))
    reasons = np.repeat(np.array(INVALID_REASONS), per_reason)
    reasons = reasons[rng.permutation(reasons.size)]
    src = rng.choice(len(df), size=n_invalid, replace=True)
    bad = df.iloc[src].copy().reset_index(drop=True)
    bad[id_col] = [str(next_id + i) for i in range(n_invalid)]
    for col in blank_cols:
        bad[col] = None

    def numeric(col: str) -> np.ndarray:
        text = bad[col].astype(str).str.replace(r"[$,]", "", regex=True)
        return pd.to_numeric(text).to_numpy(dtype=float)

    amount_numeric, total_numeric = numeric(amount_col), numeric(total_col)
    on_amount = (reasons == "amount") & retail & (rng.random(n_invalid) < 0.5)
    on_total = (reasons == "amount") & ~on_amount
    bad_numbers = np.array(BAD_NUMBERS, dtype=object)[rng.integers(0, len(BAD_NUMBERS), n_invalid)]
    bad_dates = np.array(BAD_DATES, dtype=object)[rng.integers(0, len(BAD_DATES), n_invalid)]
    bad.loc[on_amount, amount_col] = bad_numbers[on_amount]
    bad.loc[on_total, total_col] = bad_numbers[on_total]
    m = reasons == "date"
    bad.loc[m, date_col] = bad_dates[m]
    bad.loc[reasons == "customer_id", cust_col] = None
    # A refund-like row: negative unit price and the matching negative total.
    m = reasons == "negative_total"
    bad.loc[m, amount_col] = [f"{-abs(v):.2f}" for v in amount_numeric[m]]
    bad.loc[m, total_col] = [f"{-abs(v):.2f}" for v in total_numeric[m]]
    ids = {r: bad.loc[reasons == r, id_col].astype(str).tolist() for r in INVALID_REASONS}
    detail = {f"amount:{amount_col}": int(on_amount.sum()), f"amount:{total_col}": int(on_total.sum())}
    return bad, {"ids": ids, "detail": {k: v for k, v in sorted(detail.items()) if v}}


# --------------------------------------------------------------------------- assembly

def _window(cfg: GenerateConfig) -> tuple[pd.Timestamp, pd.Timestamp, int]:
    end = pd.Timestamp(cfg.end_date)
    start = end + pd.Timedelta(days=1) - pd.DateOffset(months=cfg.months)
    return start, end, int((end - start).days) + 1


def generate_frames(cfg: GenerateConfig) -> tuple[dict[str, pd.DataFrame], dict]:
    """Generate the data and its ground truth in memory (no I/O).

    Args:
        cfg: generator parameters.

    Returns:
        ``(frames, truth)``. ``frames`` holds the data tables (``"retail_table"`` in mode
        ``retail_table``; ``"customers"``, ``"transactions"``, ``"reviews"`` in mode
        ``tables``), all columns as written to CSV, plus ``"truth_customers"`` and
        ``"truth_reviews"``. ``truth`` is the JSON-serialisable content of
        ``ground_truth.json``.
    """
    personas = PERSONAS[: cfg.n_personas]
    root = np.random.SeedSequence(cfg.seed)
    # spawn(5) keeps the first four streams of spawn(4): adding the satisfaction stream left
    # every other generated value unchanged
    rngs = dict(zip(("customers", "transactions", "reviews", "mess", "satisfaction"),
                    (np.random.default_rng(s) for s in root.spawn(5))))
    start, end, n_days = _window(cfg)
    mean_orders = float(np.dot([p.weight for p in personas], [p.orders_mean for p in personas])
                        / sum(p.weight for p in personas))
    n_cust = max(50, int(round(cfg.n_transactions / mean_orders)))

    cust = _make_customers(cfg, rngs["customers"], n_cust, personas)
    cust["satisfaction"] = np.clip(
        cust["sentiment"] + rngs["satisfaction"].normal(0.0, cfg.satisfaction_sd, n_cust), 0.02, 0.98)
    tx = _make_transactions(cfg, rngs["transactions"], cust, personas, n_days)
    rev = _make_reviews(cfg, rngs["reviews"], cust, tx, n_days)
    dates = _date_strings(start, n_days)
    mess_rng = rngs["mess"]
    n_tx = tx["day"].size
    cidx = tx["cidx"]

    blank = _blank_customers(mess_rng, n_cust) if cfg.messy else {
        k: np.zeros(n_cust, dtype=bool) for k in ("age", "gender", "income")}
    age = pd.array(cust["age"], dtype="Int64")
    age[blank["age"]] = pd.NA
    gender = cust["gender"].copy()
    gender[blank["gender"]] = None
    income_band = cust["income_band"].copy()
    income_band[blank["income"]] = None
    income_num = cust["income"].copy()
    income_num[blank["income"]] = np.nan

    tenure = n_days - 1 - np.floor(cust["first"] * (n_days - 1))
    segment = np.where(tenure < 60, "New",
                       np.where((cust["income_band"] == "High") & (cust["price_level"] >= 1.4),
                                "Premium", "Regular"))
    segment = _obj(list(segment))

    frames: dict[str, pd.DataFrame] = {}
    mess_truth: dict = {}
    if cfg.mode == "retail_table":
        tx_id = _obj([str(1_000_001 + i) for i in range(n_tx)])
        feedback = np.full(n_tx, None, dtype=object)
        feedback[rev["tx_pos"]] = rev["text"]
        ratings = pd.array(np.full(n_tx, pd.NA), dtype="Int64")
        ratings[rev["tx_pos"]] = rev["rating"]
        d = pd.DatetimeIndex(start + pd.to_timedelta(tx["day"], unit="D"))
        secs = tx["secs"]
        time_table = _obj([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)])
        state_names = cust["region"][cidx]
        state_codes = cust["state_code"][cidx]
        if cfg.messy:
            date_col = _messy_dates(mess_rng, tx["day"], dates)
            state_col = _messy_states(mess_rng, state_names, state_codes)
            gender_col = _messy_case(mess_rng, gender[cidx])
            country_col = _messy_country(mess_rng, cust["country"][cidx])
            category_col = _messy_case(mess_rng, _obj(CATEGORIES)[tx["cat"]], 0.1)
            city_col = _messy_case(mess_rng, cust["city"][cidx], 0.1)
            amount_col = _money(mess_rng, tx["amount"])
            total_col = _money(mess_rng, tx["total"])
        else:
            date_col = dates["iso"][tx["day"]]
            state_col = state_names
            gender_col = gender[cidx]
            country_col = cust["country"][cidx]
            category_col = _obj(CATEGORIES)[tx["cat"]]
            city_col = cust["city"][cidx]
            amount_col = tx["amount"]
            total_col = tx["total"]

        def text(values: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
            return _col(values) if values.dtype == object else values

        df = pd.DataFrame({
            "Transaction_ID": _col(tx_id), "Customer_ID": _col(cust["customer_id"], cidx),
            "Name": _col(cust["name"], cidx), "Email": _col(cust["email"], cidx),
            "Phone": _col(cust["phone"], cidx), "Address": _col(cust["address"], cidx),
            "City": text(city_col), "State": text(state_col),
            "Zipcode": _col(cust["zipcode"], cidx), "Country": text(country_col),
            "Age": age[cidx], "Gender": text(gender_col), "Income": _col(income_band, cidx),
            "Customer_Segment": _col(segment, cidx), "Date": _col(date_col),
            "Year": d.year.to_numpy().astype("int64"),
            "Month": _col(_obj(MONTH_NAMES), d.month.to_numpy() - 1),
            "Time": _col(time_table, secs), "Total_Purchases": tx["qty"],
            "Amount": text(amount_col), "Total_Amount": text(total_col),
            "Product_Category": text(category_col), "Product_Brand": _col(tx["brand"]),
            "Product_Type": _col(tx["ptype"]), "Feedback": _col(feedback),
            "Shipping_Method": _col(tx["shipping"]), "Payment_Method": _col(tx["payment"]),
            "Order_Status": _col(tx["status"]), "Ratings": ratings, "products": _col(tx["product"]),
        })
        assert tuple(df.columns) == RETAIL_COLUMNS
        if cfg.messy:
            n_invalid = int(round(cfg.invalid_share * n_tx))
            bad, inv = _invalid_rows(mess_rng, df, n_invalid, "Transaction_ID", "Customer_ID",
                                     "Date", "Total_Amount", "Amount", 1_000_001 + n_tx, True,
                                     ("Feedback", "Ratings"))
            candidates = np.setdiff1d(np.arange(n_tx), rev["tx_pos"][rev["has_pii"]])
            n_dup = int(round(cfg.duplicate_share * n_tx))
            df = _inject(mess_rng, df, candidates, n_dup, bad)
            mess_truth = {"retail_table": {"duplicates": n_dup, "invalid": inv}}
        frames["retail_table"] = df
        review_ids = tx_id[rev["tx_pos"]]
    else:
        cust_df = pd.DataFrame({
            "customer_id": cust["customer_id"], "name": cust["name"], "email": cust["email"],
            "phone": cust["phone"], "address": cust["address"], "city": cust["city"],
            "zipcode": cust["zipcode"], "state": cust["region"], "country": cust["country"],
            "age": age, "gender": gender, "income": income_num,
        })
        tx_id = _obj([f"T{1_000_001 + i}" for i in range(n_tx)])
        tx_df = pd.DataFrame({
            "transaction_id": _col(tx_id), "customer_id": _col(cust["customer_id"], cidx),
            "date": _col(dates["iso"], tx["day"]), "quantity": tx["qty"], "amount": tx["amount"],
            "total": tx["total"], "category": _col(_obj(CATEGORIES), tx["cat"]),
        })
        rorder = np.lexsort((rev["tx_pos"], rev["day"]))
        n_rev = rorder.size
        review_ids = _obj([f"R{500_001 + i}" for i in range(n_rev)])
        inv_order = np.empty(n_rev, dtype=np.int64)
        inv_order[rorder] = np.arange(n_rev)
        review_ids = review_ids[inv_order]  # id by review position in rev arrays
        rev_df = pd.DataFrame({
            "review_id": review_ids[rorder], "customer_id": cust["customer_id"][cidx[rev["tx_pos"]]][rorder],
            "date": dates["iso"][rev["day"]][rorder], "text": rev["text"][rorder],
            "rating": rev["rating"][rorder],
        })
        if cfg.messy:
            cust_df["state"] = _messy_states(mess_rng, cust["region"], cust["state_code"])
            cust_df["gender"] = _messy_case(mess_rng, gender)
            cust_df["country"] = _messy_country(mess_rng, cust["country"])
            cust_df["city"] = _messy_case(mess_rng, cust["city"], 0.1)
            tx_df["date"] = _col(_messy_dates(mess_rng, tx["day"], dates))
            tx_df["amount"] = _col(_money(mess_rng, tx["amount"]))
            tx_df["total"] = _col(_money(mess_rng, tx["total"]))
            tx_df["category"] = _col(_messy_case(mess_rng, _obj(CATEGORIES)[tx["cat"]], 0.1))
            rev_df["date"] = _messy_dates(mess_rng, rev["day"][rorder], dates)
            n_invalid = int(round(cfg.invalid_share * n_tx))
            bad, inv = _invalid_rows(mess_rng, tx_df, n_invalid, "transaction_id", "customer_id",
                                     "date", "total", "amount", 1_000_001 + n_tx, False, ())
            bad["transaction_id"] = "T" + bad["transaction_id"]
            inv["ids"] = {k: [f"T{v}" for v in ids] for k, ids in inv["ids"].items()}
            dup = {k: int(round(cfg.duplicate_share * len(f))) for k, f in
                   (("customers", cust_df), ("transactions", tx_df), ("reviews", rev_df))}
            cust_df = _inject(mess_rng, cust_df, np.arange(len(cust_df)), dup["customers"],
                              cust_df.iloc[:0])
            tx_df = _inject(mess_rng, tx_df, np.arange(n_tx), dup["transactions"], bad)
            rev_no_pii = np.flatnonzero(~rev["has_pii"][rorder])
            rev_df = _inject(mess_rng, rev_df, rev_no_pii, dup["reviews"], rev_df.iloc[:0])
            mess_truth = {"customers": {"duplicates": dup["customers"]},
                          "transactions": {"duplicates": dup["transactions"], "invalid": inv},
                          "reviews": {"duplicates": dup["reviews"]}}
        frames.update(customers=cust_df, transactions=tx_df, reviews=rev_df)

    if cfg.messy:
        mess_truth["unknown"] = {k: int(v.sum()) for k, v in blank.items()}
    frames["truth_customers"] = pd.DataFrame({
        "customer_id": cust["customer_id"], "persona_id": cust["persona_id"],
        "persona": _obj([p.name for p in personas])[cust["persona_id"]],
        "sentiment": np.round(cust["sentiment"], 6),
        "satisfaction": np.round(cust["satisfaction"], 6), "state": cust["state_code"],
        "country": cust["country"], "n_orders": tx["counts"],
    })
    frames["truth_reviews"] = pd.DataFrame({
        "review_id": review_ids, "customer_id": cust["customer_id"][cidx[rev["tx_pos"]]],
        "true_label": rev["label"], "rating": rev["rating"], "text_source": rev["source"],
        "has_pii": rev["has_pii"],
    })
    truth = _truth(cfg, personas, cust, tx, rev, start, end, frames, mess_truth, review_ids)
    return frames, truth


def _counter(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts)}


# planted factor -> the value-model feature or driver group that observes it. The persona's
# price level has no column of its own: it shows through the persona markers, mainly the
# category mix, so it is compared together with the category prices.
PLANTED_DRIVER_FEATURES = {"frequency": "frequency", "basket_size": "items_per_order",
                           "category_price": "category_mix", "satisfaction": "review_sentiment",
                           "price_level": "category_mix"}
# Planted effects closer than this (relative to the larger) are tied: their order is not a
# property of the data. The truth estimate itself moves about +-5 % between seeds.
PLANTED_TIE_MARGIN = 0.10
TRUTH_SHAPLEY_SAMPLE = 4_000  # customers explained (as many fitted on) for the planted effects
# One conditional-mean model per coalition: 50 rounds at rate 0.2 give the same effects as 100 at
# 0.1 (to $1) in half the time; one thread is faster for these small fits.
TRUTH_MODEL = {"max_iter": 50, "learning_rate": 0.2, "random_state": 0}


def _conditional_shapley(L: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact Shapley values of ``y`` over the columns of ``L`` with the observational value
    function ``v(S) = E[y | L_S]``: the conditional means are fitted on one half of the rows
    (gradient boosting, one model per coalition) and the other half is explained, so noise the
    fit would memorise does not count as an effect. Returns (explained row indices, values).
    Constant columns get 0."""
    from itertools import combinations

    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(y))[: 2 * TRUTH_SHAPLEY_SAMPLE]
    fit, explain = np.sort(rows[::2]), np.sort(rows[1::2])
    players = [j for j in range(L.shape[1]) if np.ptp(L[:, j]) > 0]
    value = {(): np.full(len(explain), y[fit].mean())}
    with threadpool_limits(1):
        for r in range(1, len(players) + 1):
            for coalition in combinations(players, r):
                model = HistGradientBoostingRegressor(**TRUTH_MODEL)
                model.fit(L[fit][:, coalition], y[fit])
                value[coalition] = model.predict(L[explain][:, coalition])
    phi = np.zeros((len(explain), L.shape[1]))
    p = len(players)
    for j in players:
        others = [k for k in players if k != j]
        for r in range(p):
            weight = math.factorial(r) * math.factorial(p - r - 1) / math.factorial(p)
            for coalition in combinations(others, r):
                phi[:, j] += weight * (value[tuple(sorted(coalition + (j,)))] - value[coalition])
    return explain, phi


def _tie_ranks(effects: dict[str, float]) -> dict[str, dict]:
    """Rank by effect, largest first, and list for each key the others within the tie margin."""
    order = sorted(effects, key=effects.get, reverse=True)
    return {k: {"rank": order.index(k) + 1,
                "tied_with": [o for o in order if o != k and abs(effects[o] - effects[k])
                              < PLANTED_TIE_MARGIN * max(effects[o], effects[k])]}
            for k in order}


def planted_drivers(cfg: GenerateConfig, cust: dict, tx: dict) -> dict:
    """How strongly each planted factor drives spend in the generated data, in dollars.

    A customer's spend is a product of factors: orders x items per order x the base price of
    the categories bought x the persona's price level x the satisfaction multiplier
    ``exp(b * (satisfaction - 0.5))`` x price noise. A factor's planted effect is the mean
    absolute Shapley value it has in spend when the value of a set of factors is the expected
    spend given them (observational, "true to the data" Shapley values), the currency of mean
    |SHAP|. Unlike setting one factor at a time to its average, this does not credit factors
    that offset each other across personas (large baskets of cheap groceries) with effects
    that never show in spend. Driver groups add their factors' values per customer, as the
    drivers stage does with SHAP.
    """
    n = cust["customer_id"].size
    cidx = tx["cidx"]
    orders = np.bincount(cidx, minlength=n).astype(float)
    items = np.bincount(cidx, weights=tx["qty"], minlength=n)
    ok = orders > 0
    base = np.array(CATEGORY_BASE_PRICE)[tx["cat"]]
    spend = np.bincount(cidx, weights=tx["total"], minlength=n)[ok]
    beta = 10.0 * math.log1p(cfg.sentiment_spend_pct / 100.0)
    factors = {
        "frequency": orders[ok],
        "basket_size": items[ok] / orders[ok],
        "category_price": np.bincount(cidx, weights=base * tx["qty"], minlength=n)[ok] / items[ok],
        "price_level": cust["price_level"][ok],
        "satisfaction": np.exp(beta * (cust["satisfaction"][ok] - 0.5)),
    }
    names = list(factors)
    rows, phi = _conditional_shapley(np.log(np.column_stack([factors[k] for k in names])),
                                     spend, cfg.seed)
    effect = {k: float(np.mean(np.abs(phi[:, j]))) for j, k in enumerate(names)}
    groups = sorted(set(PLANTED_DRIVER_FEATURES.values()))
    group_effect = {g: float(np.mean(np.abs(phi[:, [j for j, k in enumerate(names)
                                                     if PLANTED_DRIVER_FEATURES[k] == g]].sum(axis=1))))
                    for g in groups}
    factor_rank, group_rank = _tie_ranks(effect), _tie_ranks(group_effect)
    return {
        "description": "planted drivers of spend, strongest first: each factor's mean absolute "
                       "Shapley value in spend per customer, with the expected spend given a set "
                       "of factors as its value (observational Shapley values, the currency of "
                       "mean |SHAP|), estimated on customers held out from the fitted "
                       "expectations. 'observed_as' names the value-model feature or driver "
                       "group that sees the factor; 'observed' adds up each group's factors per "
                       "customer. Effects closer than tie_margin are tied",
        "method": {"value_function": "E[spend | factors in the set], HistGradientBoosting on the "
                                     "log factors, one model per set",
                   "n_fitted": int(min(TRUTH_SHAPLEY_SAMPLE, (int(ok.sum()) + 1) // 2)),
                   "n_explained": int(len(rows))},
        "tie_margin": PLANTED_TIE_MARGIN,
        "factors": {k: {"rank": factor_rank[k]["rank"], "direction": "increasing",
                        "mean_abs_effect": round(effect[k], 2),
                        "observed_as": PLANTED_DRIVER_FEATURES[k]}
                    for k in sorted(names, key=lambda k: factor_rank[k]["rank"])},
        "observed": {g: {"rank": group_rank[g]["rank"], "tied_with": group_rank[g]["tied_with"],
                         "mean_abs_effect": round(group_effect[g], 2),
                         "factors": [k for k in names if PLANTED_DRIVER_FEATURES[k] == g]}
                     for g in sorted(groups, key=lambda g: group_rank[g]["rank"])},
    }


def compare_planted_drivers(truth: dict, drivers: dict,
                            groups: list[str] | None = None) -> list[dict]:
    """Planted drivers of spend (``ground_truth.json``) next to what the value model found
    (``results/drivers.json``), one row per observed driver group (those in ``groups`` when
    given), strongest planted first.

    Each row has the planted rank and the recovered one (by the mean |SHAP| of the driver
    group, among the planted groups), ``rank_as_planted`` (every planted group that is not
    tied with this one and is planted stronger, or weaker, was found so too), the recovered
    share of importance, whether the model calls the group within noise, and whether the
    direction came out as planted: rising spend for frequency, basket size and satisfaction
    (``positive_prob``), and for the category mix a rising share of the priciest category with
    a falling share of the cheapest.
    """
    planted = truth["effects"]["spend_drivers"]["observed"]
    if groups is not None:
        planted = {g: v for g, v in planted.items() if g in groups}
    found_groups = {g["group"]: g for g in drivers.get("group_importance", [])}
    features = {g["feature"]: g for g in drivers.get("global_importance", [])}
    prices = truth["category_base_price"]
    slug = {c: "cat_share_" + c.lower().replace(" ", "_") for c in prices}

    def direction_ok(group: str) -> bool | None:
        if group == "category_mix":
            pricey, cheap = max(prices, key=prices.get), min(prices, key=prices.get)
            hi, lo = features.get(slug[pricey]), features.get(slug[cheap])
            return (hi is not None and lo is not None and hi["direction"] == "increasing"
                    and lo["direction"] == "decreasing")
        row = features.get({"review_sentiment": "positive_prob"}.get(group, group))
        return None if row is None else row["direction"] == "increasing"

    seen = [g for g in sorted(planted, key=lambda g: planted[g]["rank"]) if g in found_groups]
    found = sorted(seen, key=lambda g: found_groups[g]["rank"])

    def as_planted(g: str) -> bool:
        return all((seen.index(o) < seen.index(g)) == (found.index(o) < found.index(g))
                   for o in seen if o != g and o not in planted[g]["tied_with"])

    return [{"group": g, "factors": planted[g]["factors"],
             "planted_rank": seen.index(g) + 1,
             "tied_with": [o for o in planted[g]["tied_with"] if o in seen],
             "planted_mean_abs_effect": planted[g]["mean_abs_effect"],
             "recovered_rank": found.index(g) + 1,
             "rank_as_planted": as_planted(g),
             "group_rank": found_groups[g]["rank"],
             "mean_abs_shap": found_groups[g]["mean_abs_shap"],
             "share": found_groups[g]["share"],
             "within_noise": found_groups[g]["within_noise"],
             "direction_as_planted": direction_ok(g)} for g in seen]


def generated_customers(data_dir: Path, truth_columns: dict[str, str]
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """A generated dataset through ingest and customer features as a run does, with columns of
    ``truth_customers.csv`` joined per customer under new names (``truth_columns``: truth name
    -> customer-table name). Returns the customer table, the reviews of its customers and the
    end of the analysed window."""
    from segment_report.pipeline.config import load_config
    from segment_report.pipeline.stages.features import build_customer_features, resolve_window
    from segment_report.pipeline.stages.ingest.stage import ingest

    cfg = load_config(data_dir / "segment-report.yaml")
    ing = ingest(cfg.input, cfg.privacy)
    window = resolve_window(ing.transactions["date"], cfg.run.period, cfg.run.lookback_months)
    customers = build_customer_features(ing.transactions, ing.customers, ing.reviews, window)
    truth = pd.read_csv(data_dir / "truth_customers.csv", dtype={"customer_id": str})
    customers = customers.merge(truth[["customer_id", *truth_columns]].rename(columns=truth_columns),
                                on="customer_id", how="left")
    reviews = ing.reviews[ing.reviews["customer_id"].isin(customers["customer_id"])]
    return customers, reviews.reset_index(drop=True), window.end


def _truth(cfg: GenerateConfig, personas: tuple[Persona, ...], cust: dict, tx: dict, rev: dict,
           start: pd.Timestamp, end: pd.Timestamp, frames: dict, mess: dict,
           review_ids: np.ndarray) -> dict:
    n_cust = cust["customer_id"].size
    pid = cust["persona_id"]
    persona_list = []
    for k, p in enumerate(personas):
        m = pid == k
        traits = asdict(p)
        traits.pop("name")
        traits.pop("weight")
        persona_list.append({
            "id": k, "name": p.name,
            "share": round(p.weight / sum(q.weight for q in personas), 6),
            "n_customers": int(m.sum()),
            "realised_share": round(float(m.mean()), 6),
            "traits": {k2: (list(v) if isinstance(v, tuple) else v) for k2, v in traits.items()},
        })
    is_us = cust["is_us"]
    data_keys = [k for k in frames if not k.startswith("truth_")]
    rows_written = {k: int(len(frames[k])) for k in data_keys}
    tables = {k: v for k, v in mess.items() if k != "unknown"}
    duplicates = {k: int(v.get("duplicates", 0)) for k, v in tables.items()}
    invalid_ids: dict[str, list[str]] = {r: [] for r in INVALID_REASONS}
    detail: dict[str, int] = {}
    for v in tables.values():
        if "invalid" in v:
            for r, ids in v["invalid"]["ids"].items():
                invalid_ids[r].extend(str(i) for i in ids)
            detail.update(v["invalid"]["detail"])
    tx_by_country = pd.Series(tx["counts"]).groupby(cust["country"]).sum()
    pii_ids = [str(review_ids[p]) for p in rev["pii_pos"]]
    beta = 10.0 * math.log1p(cfg.sentiment_spend_pct / 100.0)
    state_sent = pd.Series(cust["sentiment"][is_us]).groupby(cust["state_code"][is_us]).mean()
    return {
        "generator": {"command": "segment-report generate", "version": __version__,
                      "config": asdict(cfg)},
        "window": {"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d"),
                   "days": int((end - start).days) + 1},
        "files": {k: v for k, v in {"retail_table": "retail_data.csv", "customers": "customers.csv",
                                    "transactions": "transactions.csv",
                                    "reviews": "reviews.csv"}.items() if k in data_keys},
        "categories": list(CATEGORIES),
        "category_base_price": dict(zip(CATEGORIES, CATEGORY_BASE_PRICE)),
        "personas": persona_list,
        "effects": {
            "sentiment_spend": {
                "description": "unit price (Amount, hence Total_Amount) x exp(b * (u - 0.5)) for "
                               "the customer's satisfaction u = clip(s + N(0, satisfaction_sd), "
                               "0.02, 0.98), within every persona; u also sets the star ratings",
                "b": round(beta, 6),
                "spend_pct_per_0.1_sentiment": cfg.sentiment_spend_pct,
                "satisfaction_sd": cfg.satisfaction_sd,
            },
            "spend_drivers": planted_drivers(cfg, cust, tx),
            "state_sentiment": {
                "description": "latent sentiment shifted for every customer in these "
                               "neighbouring states (then clipped to [0.02, 0.98])",
                "high": {"states": list(HIGH_SENTIMENT_STATES), "shift": cfg.state_sentiment_shift},
                "low": {"states": list(LOW_SENTIMENT_STATES), "shift": -cfg.state_sentiment_shift},
                "mean_latent_sentiment_us": round(float(cust["sentiment"][is_us].mean()), 6),
                "mean_latent_sentiment_by_state": {k: round(float(v), 6)
                                                   for k, v in state_sent.items()},
            },
        },
        "reviews": {
            "rating_model": f"clip(round(1 + 4 u + N(0, {review_noise_sd(cfg):.4g})), 1, 5) for "
                            "the customer's satisfaction u",
            "label_from_rating": {"negative": [1, 2], "neutral": [3], "positive": [4, 5]},
            "by_label": _counter(rev["label"]),
            "by_rating": _counter(rev["rating"]),
            "text_source": _counter(rev["source"]),
            "pii": {"count": int(rev["pii_pos"].size), "by_kind": _counter(rev["pii_kind"]),
                    "review_ids": pii_ids},
        },
        "income": {"retail_table": "band text Low / Medium / High",
                   "tables": "numeric US$ per year; bands " + ", ".join(
                       f"{b}: [{lo}, {hi})" for b, (lo, hi) in zip(INCOME_BANDS, INCOME_RANGES))},
        "counts": {
            "rows_written": rows_written,
            "transactions": int(tx["day"].size),
            "customers": n_cust,
            "reviews": int(rev["tx_pos"].size),
            "duplicates_injected": duplicates,
            "invalid_rows": {r: len(v) for r, v in invalid_ids.items()},
            "invalid_rows_detail": detail,
            "invalid_total": int(sum(len(v) for v in invalid_ids.values())),
            "customers_by_country": _counter(cust["country"]),
            "transactions_by_country": {str(k): int(v) for k, v in tx_by_country.items()},
            "non_us_customers": {k: v for k, v in _counter(cust["country"][~is_us]).items()},
            "non_us_transactions": {str(k): int(v) for k, v in tx_by_country.items() if k != "USA"},
            "customers_by_state": _counter(cust["state_code"][is_us]),
            "customers_with_unknown": dict(mess.get("unknown", {})),
        },
        "invalid_transaction_ids": invalid_ids,
    }


# --------------------------------------------------------------------------- writing

def _write_csv(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _config_yaml(cfg: GenerateConfig) -> str:
    if cfg.mode == "retail_table":
        tree: dict = {"seed": cfg.seed,
                      "input": {"mode": "retail_table", "path": "retail_data.csv"}}
    else:
        tree = {"seed": cfg.seed, "input": {
            "mode": "tables",
            "customers": {"path": "customers.csv",
                          "columns": {c: c for c in CUSTOMER_COLUMNS}},
            "transactions": {"path": "transactions.csv",
                             "columns": {"transaction_id": "transaction_id",
                                         "customer_id": "customer_id", "date": "date",
                                         "quantity": "quantity", "amount": "amount",
                                         "total": "total", "category": "category"}},
            "reviews": {"path": "reviews.csv", "columns": {c: c for c in REVIEW_COLUMNS}},
        }}
    header = ("# segment-report configuration for data written by 'segment-report generate'\n"
              f"# (mode {cfg.mode}, {cfg.n_transactions} transactions, seed {cfg.seed}"
              f"{', messy' if cfg.messy else ''}).\n"
              "# Paths are relative to this file. Ground truth: ground_truth.json.\n")
    return header + yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def generate_dataset(cfg: GenerateConfig, out_dir: Path) -> GeneratedDataset:
    """Generate a dataset and write it with its config and ground truth.

    Writes into ``out_dir`` (created if needed): the data CSV(s), ``segment-report.yaml``,
    ``ground_truth.json``, ``truth_customers.csv`` and ``truth_reviews.csv``.

    Args:
        cfg: generator parameters.
        out_dir: destination folder.

    Returns:
        A :class:`GeneratedDataset` naming the files written.

    Raises:
        ConfigError: ``out_dir`` exists and is not a folder, or cannot be created.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise ConfigError(f"cannot create the output folder: {exc.strerror or exc}",
                          file=str(out_dir), expected="a writable folder",
                          fix="pass another --out") from None
    with progress_bar("generating", total=3, unit="steps") as advance:
        logger.info("generating %s transactions (%s, seed %s%s)", f"{cfg.n_transactions:,}",
                    cfg.mode, cfg.seed, ", messy" if cfg.messy else "")
        frames, truth = generate_frames(cfg)
        advance(1)
        names = truth["files"]
        data_files: dict[str, Path] = {}
        for key, fname in names.items():
            data_files[key] = out_dir / fname
            _write_csv(frames[key], data_files[key])
        advance(1)
        _write_csv(frames["truth_customers"], out_dir / "truth_customers.csv")
        _write_csv(frames["truth_reviews"], out_dir / "truth_reviews.csv")
        truth_file = out_dir / "ground_truth.json"
        truth_file.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
        config_file = out_dir / "segment-report.yaml"
        config_file.write_text(_config_yaml(cfg), encoding="utf-8")
        advance(1)
    return GeneratedDataset(out_dir=out_dir, data_files=data_files, config_file=config_file,
                            truth_file=truth_file,
                            rows={k: int(v) for k, v in truth["counts"]["rows_written"].items()},
                            n_customers=int(truth["counts"]["customers"]),
                            n_reviews=int(truth["counts"]["reviews"]))
