"""Personal data in review text: a corpus of planted phone numbers (US, UK, German, French,
Indian and Australian formats, with and without extensions), e-mails and street addresses is
scrubbed to the last digit, in the scrubber and in everything a run writes; ordinary numbers
(prices, sizes, dates, counts, measurements) are left exactly as written."""

from __future__ import annotations

import random
import re
import shutil
import subprocess

import pandas as pd
import pytest

from segment_report.pipeline.config import PrivacyConfig
from segment_report.pipeline.stages.ingest.privacy import scrub_text, scrub_texts


def _d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _area(rng: random.Random) -> str:
    return rng.choice("23456789") + _d(rng, 2)


#: Each format: a name and how to write a random number in it.
FORMATS = {
    "us_dashed": lambda r: f"{_area(r)}-{_area(r)}-{_d(r, 4)}",
    "us_dashed_3_4_4": lambda r: f"555-{_d(r, 4)}-{_d(r, 4)}",
    "us_dotted": lambda r: f"{_area(r)}.{_area(r)}.{_d(r, 4)}",
    "us_parenthesised": lambda r: f"({_area(r)}) {_area(r)}-{_d(r, 4)}",
    "us_plain_10": lambda r: f"{_area(r)}{_area(r)}{_d(r, 4)}",
    "us_plus_1": lambda r: f"+1 {_area(r)} {_area(r)} {_d(r, 4)}",
    "us_1_dashed": lambda r: f"1-{_area(r)}-{_area(r)}-{_d(r, 4)}",
    "us_ext_dot": lambda r: f"({_area(r)}) {_area(r)}-{_d(r, 4)} ext. {_d(r, 2)}",
    "us_ext_x": lambda r: f"{_area(r)}-{_area(r)}-{_d(r, 4)} x{_d(r, 3)}",
    "uk_plus_44": lambda r: f"+44 20 {_d(r, 4)} {_d(r, 4)}",
    "uk_020": lambda r: f"020 {_d(r, 4)} {_d(r, 4)}",
    "uk_mobile": lambda r: f"07{_d(r, 3)} {_d(r, 6)}",
    "de_0049": lambda r: f"0049 30 {_d(r, 7)}",
    "de_plus_49": lambda r: f"+49 (0)89 {_d(r, 3)} {_d(r, 4)}",
    "de_national": lambda r: f"030 {_d(r, 8)}",
    "fr_plus_33": lambda r: f"+33 1 {_d(r, 2)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}",
    "fr_national": lambda r: f"01 {_d(r, 2)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}",
    "in_plus_91": lambda r: f"+91 9{_d(r, 4)} {_d(r, 5)}",
    "au_plus_61": lambda r: f"+61 2 {_d(r, 4)} {_d(r, 4)}",
    "au_national": lambda r: f"(02) {_d(r, 4)} {_d(r, 4)}",
    "us_en_dash": lambda r: f"{_area(r)}\u2013{_area(r)}\u2013{_d(r, 4)}",
    "us_spaced_dash": lambda r: f"({_area(r)}) - {_area(r)} - {_d(r, 4)}",
    "de_slash": lambda r: f"0{_d(r, 2)}/{_d(r, 7)}",
    "fr_no_break_space": lambda r: f"06\u00a0{_d(r, 2)}\u00a0{_d(r, 2)}\u00a0{_d(r, 2)}\u00a0{_d(r, 2)}",
}

# Review-like sentences around the numbers; no digits of their own, so any digit left after
# scrubbing is part of a planted number.
TEMPLATES = [
    "Lovely dress but the zip broke after a week. Call me on {p} if you want it back.",
    "{p} is my cell, text me about the exchange please!!",
    "runs small. seller said ring {p} for returns, nobody answered",
    "Great coat. Contact: {p} (evenings) or write to {e}.",
    "I live at {a} and the parcel never came, phone {p} or {q}.",
    "Fabric is thin. My number, {p}, is on the order; also {e}",
    "Tried calling customer service at {p}... no luck. Love the colour though.",
    "Please call {p}. Thanks, great shirt",
]
EMAILS = ["maria.lopez@example.com", "j_smith+shop@mail.example.org", "anna-k@example.co.uk"]
ADDRESSES = ["742 Evergreen Terrace", "12 Oak Street", "221B Baker Street"]


def phone_corpus(n_per_format: int = 10, seed: int = 17) -> pd.DataFrame:
    """Review texts with planted numbers: columns text, name, address, phones (the planted
    numbers as written) and formats."""
    rng = random.Random(seed)
    numbers = [(fmt, make(rng)) for fmt, make in FORMATS.items() for _ in range(n_per_format)]
    rng.shuffle(numbers)
    rows = []
    while numbers:
        template = TEMPLATES[len(rows) % len(TEMPLATES)]
        wanted = template.count("{p}") + template.count("{q}")
        planted = [numbers.pop() for _ in range(min(wanted, len(numbers)))]
        fill = {"p": planted[0][1], "q": planted[1][1] if len(planted) > 1 else "",
                "e": EMAILS[len(rows) % len(EMAILS)], "a": ADDRESSES[len(rows) % len(ADDRESSES)]}
        rows.append({"text": template.format(**fill), "name": "Maria Lopez",
                     "address": fill["a"], "phones": [p for _, p in planted],
                     "formats": [f for f, _ in planted]})
    return pd.DataFrame(rows)


def test_corpus_is_large_and_varied():
    corpus = phone_corpus()
    planted = [p for ps in corpus["phones"] for p in ps]
    assert len(planted) >= 200 and len({f for fs in corpus["formats"] for f in fs}) >= 10
    assert any("ext." in p for p in planted) and any(" x" in p for p in planted)


def test_no_planted_phone_number_survives_scrubbing():
    corpus = phone_corpus()
    out = scrub_texts(corpus["text"], corpus["name"], corpus["address"])
    survivors = [(fmts, text) for fmts, text in zip(corpus["formats"], out) if re.search(r"\d", text)]
    assert not survivors, f"{len(survivors)} texts keep digits, e.g. {survivors[:5]}"
    assert [t.count("[phone]") for t in out] == [len(p) for p in corpus["phones"]]
    assert not any("@" in t for t in out)
    assert all(t.count("[email]") == s.count("{e}") for t, s in
               zip(out, [TEMPLATES[i % len(TEMPLATES)] for i in range(len(corpus))]))
    assert not any(a in t for a, t in zip(corpus["address"], out))
    assert "Maria" not in " ".join(out)


def test_scrub_text_and_scrub_texts_agree():
    corpus = phone_corpus(n_per_format=2)
    texts = corpus["text"].tolist() + ORDINARY + MIXED_IN
    vectorised = scrub_texts(pd.Series(texts)).tolist()
    assert vectorised == [scrub_text(t) for t in texts]


def test_regions_add_national_formats():
    text = "ring the Dublin shop on (022) 12345 anytime"  # 8 digits: too few for the fallback
    assert scrub_text(text) == text
    assert (scrub_text(text, privacy=PrivacyConfig(phone_regions=("US", "IE")))
            == "ring the Dublin shop on [phone] anytime")


#: Numbers that are not phone numbers: they must come out exactly as they went in.
ORDINARY = [
    "Paid $49.99 for it and it's worth 49.99 dollars, maybe $129.00 at full price.",
    "I usually wear a size 10, the 32x34 jeans fit, I'm 5'4\" and 120 lbs.",
    "Ordered on 2024-03-15, arrived 03/15/2024, returned 15.03.2024.",
    "Bought on 2024-03-15 10:30 and again 2024-04-01 for $1,299.99",
    "3rd order this year, 20% off, 2 for 1, 100% cotton, 5 ft 6 and 34B.",
    "sizes 2 4 6 8 10 12 all tried; also sizes 32 34 36 38 40 in the men's line",
    "I have ordered 12 times, 1234567 steps later still comfy; model 2023 is better",
    "Washed at 30 degrees, 40 min, 1200 rpm; 6 months later it's still fine",
    "order 1234567 and item 98765, length 27.5 inches, waist 28-30",
    "I'm 5 ft 6, 140 lbs, 36-28-38, usually a medium.",
    "my stats 36c/38-27-35/135#, size 10p; bought 12/27/2015 10 am",
]
#: Ordinary numbers next to phone numbers: only the phone goes.
MIXED_IN = [
    "Paid $49.99 on 2024-03-15, size 10; call me on 555-0199-7788 if it breaks",
    "5'4\" and 120 lbs; (555) 019-9778 or +44 20 7946 0958, 20% off",
]


def test_ordinary_numbers_are_left_alone():
    assert scrub_texts(pd.Series(ORDINARY)).tolist() == ORDINARY
    assert [scrub_text(t) for t in ORDINARY] == ORDINARY


def test_ordinary_numbers_beside_phone_numbers_stay():
    assert scrub_texts(pd.Series(MIXED_IN)).tolist() == [
        "Paid $49.99 on 2024-03-15, size 10; call me on [phone] if it breaks",
        "5'4\" and 120 lbs; [phone] or [phone], 20% off",
    ]


# --------------------------------------------------------------------------- end to end

def _digit_patterns(phone: str) -> list[re.Pattern[str]]:
    """Patterns that find the number, or its last 7+ digits, however it is re-punctuated."""
    groups = re.findall(r"\d+", phone)
    tail: list[str] = []
    while groups and sum(map(len, tail)) < 7:
        tail.insert(0, groups.pop())
    return [re.compile(r"(?<!\d)" + r"\D{0,3}".join(tail) + r"(?!\d)"),
            re.compile(re.escape(re.sub(r"\D", "", phone)))]


@pytest.mark.slow
def test_planted_numbers_reach_no_output_of_a_run(tmp_path):
    """A whole run (VADER, every report) on synthetic data whose reviews, and a quarantined
    row, quote planted phone numbers: no output file holds any of them."""
    from segment_report import run
    from segment_report.pipeline.io.store import load_results
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset
    from segment_report.pipeline.config import load_config
    from segment_report.reports.email import build_message
    from tests.conftest import FAST_OVERRIDES

    data = generate_dataset(GenerateConfig(n_transactions=3000, seed=5), tmp_path / "data")
    table = data.data_files["retail_table"]
    frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    corpus = phone_corpus()
    reviewed = frame.index[frame["Feedback"] != ""][: len(corpus) + 1]
    frame.loc[reviewed[:-1], "Feedback"] = corpus["text"].to_numpy()
    frame.loc[reviewed[:-1], "Ratings"] = "2"
    quarantined = reviewed[-1]  # an unusable amount: the row goes to quarantine.csv
    frame.loc[quarantined, ["Total_Amount", "Amount", "Feedback"]] = [
        "call 555-0123-4567", "n/a-ish", "Broken zip, ring (555) 019-9778 ext. 12 or +49 30 7654321"]
    frame.to_csv(table, index=False)
    planted = [p for ps in corpus["phones"] for p in ps] + [
        "555-0123-4567", "(555) 019-9778 ext. 12", "+49 30 7654321"]

    out = tmp_path / "out"
    try:
        run(data.config_file, period="all", out=out, **FAST_OVERRIDES)
    except Exception as exc:  # a held run (exit 3) is still published
        if type(exc).__name__ != "QualityGateError":
            raise
    run_dir = out / "all"
    texts: dict[str, str] = {}
    for path in run_dir.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            texts[str(path)] = pd.read_parquet(path).to_csv()
        elif path.suffix == ".pdf":
            if shutil.which("pdftotext"):
                texts[str(path)] = subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                                  text=True, check=True).stdout
        elif path.suffix in (".json", ".csv", ".html", ".qmd", ".log", ".md", ".txt", ".js", ".yml", ".yaml"):
            texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    texts["e-mail"] = build_message(load_results(run_dir), ("ops@example.com",),
                                    load_config(data.config_file).email).message.as_string()
    reviews = pd.read_parquet(run_dir / "results" / "reviews.parquet")
    assert reviews["text"].str.contains(r"\[phone\]").sum() >= len(corpus)  # the planted rows ran
    quarantine = (run_dir / "quarantine.csv").read_text(encoding="utf-8")
    assert "Broken zip, ring [phone] or [phone]" in quarantine
    assert any(p.suffix == ".pdf" for p in run_dir.rglob("*.pdf"))
    leaks = [(phone, name) for phone in planted for pattern in _digit_patterns(phone)
             for name, text in texts.items() if pattern.search(text)]
    assert not leaks, leaks[:10]
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed: every other output was checked, the PDFs were not")



def test_raw_values_quoted_by_ingest_are_scrubbed(tmp_path):
    """Quarantine.csv and data_quality.json quote raw input values: a phone number or e-mail
    typed into the wrong column is scrubbed there too, and so is a quarantined review."""
    from segment_report.pipeline.config import load_config
    from segment_report.pipeline.stages.ingest.stage import ingest
    from tests.conftest import retail_row, write_retail

    rows = [retail_row(1, "7", state="call 555-0199-7788", feedback="fine", rating="4"),
            retail_row(2, "8", total="ring +44 20 7946 0958",
                       feedback="Jane Doe: 020 7946 0958 or jane@example.com", rating="1")]
    cfg = load_config(None, {"input.path": str(write_retail(tmp_path / "r.csv", rows))})
    result = ingest(cfg.input, cfg.privacy)
    assert result.quality["files"]["retail_table"]["unknown_state_values"] == {"call [phone]": 1}
    row = result.quarantine.iloc[0]
    assert row["Total_Amount"] == "ring [phone]"
    assert row["reason"] == "Total_Amount: amount is not a number: 'ring [phone]'"
    assert row["Feedback"] == "[name]: [phone] or [email]"
    assert row["Transaction_ID"] == "2" and row["Customer_ID"] == "8"  # ids are not scrubbed


def test_phone_regions_are_checked():
    from segment_report.pipeline.config import load_config
    from segment_report.pipeline.errors import ConfigError

    assert load_config(None, {"privacy.phone_regions": ["gb", "DE"]}).privacy.phone_regions == ("GB", "DE")
    with pytest.raises(ConfigError, match="phone_regions"):
        load_config(None, {"privacy.phone_regions": ["XX"]})
    with pytest.raises(ConfigError, match="phone_leniency"):
        load_config(None, {"privacy.phone_leniency": "loose"})
