"""Customers drawn from the planted personas: demographics, location, contact details (PII), the
latent sentiment and the price level."""

from __future__ import annotations

import numpy as np

from segment_report.pipeline.states import CODE_TO_NAME
from segment_report.pipeline.synthetic.arrays import _alloc, _obj
from segment_report.pipeline.synthetic.catalogue import (CATEGORIES, EMAIL_DOMAINS, LAPSE_RANGE,
                                                         LAPSED_PERSONA_LAST_ORDER, FIRST_NAMES, FOREIGN,
                                                         GENDERS, HIGH_INCOME, HIGH_SENTIMENT_STATES,
                                                         INCOME_BANDS, INCOME_RANGES, LAST_NAMES,
                                                         LOW_SENTIMENT_STATES, MEDIUM_INCOME, STATE_CITIES,
                                                         STATE_POPULATION, STREET_TYPES, STREETS, ZIP_AREA,
                                                         Persona)
from segment_report.pipeline.synthetic.config import GenerateConfig


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
    income_num[income_idx == 0] = np.minimum(income_num[income_idx == 0], MEDIUM_INCOME - 1_000)
    income_num[income_idx == 1] = np.clip(income_num[income_idx == 1], MEDIUM_INCOME, HIGH_INCOME - 1_000)
    income_num[income_idx == 2] = np.maximum(income_num[income_idx == 2], HIGH_INCOME)

    ids = rng.choice(np.arange(10_000, 10_000 + 9 * n_cust + 100_000), size=n_cust, replace=False)
    return {
        "customer_id": _obj([str(i) for i in ids]), "persona_id": pid, "sentiment": sentiment,
        "age": age, "gender": gender, "income_band": _obj(INCOME_BANDS)[income_idx],
        "income": income_num, "country": country, "state_code": state_code, "region": region,
        "city": city, "name": _obj(full), "email": _obj(email), "phone": phone,
        "address": _obj(address), "zipcode": zipcode, "mix": mix, "first": first, "last": last,
        "price_level": par["price_level"], "is_us": is_us,
    }


def plant_lapses(rng: np.random.Generator, cust: dict[str, np.ndarray], personas: tuple[Persona, ...]) -> None:
    """Who is still buying at the end of the history (``cust["active"]``), the churn that the CLV
    stage must recover. A persona whose last orders all fall early (``last_order`` ends before
    ``LAPSED_PERSONA_LAST_ORDER``) has lapsed as a whole; in every other persona a planted
    ``lapse_share`` of the customers stops buying in ``LAPSE_RANGE`` (their last order moves
    there) and the rest keep buying to the end. Uses its own random stream, so every other
    generated value of a non-lapsing customer is as before."""
    pid = cust["persona_id"]
    lapsed_persona = np.array([p.last_order[1] < LAPSED_PERSONA_LAST_ORDER for p in personas])[pid]
    share = np.array([p.lapse_share for p in personas])[pid]
    u = rng.random(pid.size)
    lapser = ~lapsed_persona & (u < share)
    lo = np.maximum(LAPSE_RANGE[0], cust["first"] + 0.05)
    cust["last"] = np.where(lapser, lo + rng.random(pid.size) * np.maximum(LAPSE_RANGE[1] - lo, 0.0), cust["last"])
    cust["active"] = ~(lapsed_persona | lapser)
