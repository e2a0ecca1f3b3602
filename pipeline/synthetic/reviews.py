"""Review texts and ratings: composed texts by label and category, real CC0 clothing reviews,
typos, mixed reviews, and personal data planted in some texts."""

from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pandas as pd

from segment_report.pipeline.synthetic.arrays import _obj
from segment_report.pipeline.synthetic.catalogue import CATALOGUE, CATEGORIES
from segment_report.pipeline.synthetic.config import GenerateConfig, RATING_NOISE_SD

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


def _load_real_reviews() -> dict[int, np.ndarray]:
    """The bundled CC0 review sample, texts grouped by star rating."""
    path = resources.files("segment_report.pipeline") / "data" / "clothing_reviews_sample.csv"
    with resources.as_file(path) as p:
        df = pd.read_csv(p, dtype={"text": str, "rating": int}, keep_default_na=False)
    return {r: _obj(df.loc[df["rating"] == r, "text"].tolist()) for r in range(1, 6)}


def _label(rating: np.ndarray) -> np.ndarray:
    return np.where(rating <= 2, "negative", np.where(rating == 3, "neutral", "positive"))


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
