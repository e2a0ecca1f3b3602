"""Ingest: the mess is repaired, bad rows are quarantined with a reason, valid rows are kept."""

from __future__ import annotations

import pandas as pd
import pytest

from segment_report.pipeline.config import load_config
from segment_report.pipeline.stages.ingest.stage import (clean_text, ingest, normalise_country, normalise_customer_id,
                             normalise_gender, normalise_income, parse_dates, parse_number)
from tests.conftest import retail_row, write_retail


def _ingest(path, **overrides):
    cfg = load_config(None, {"input.path": str(path), **overrides})
    return ingest(cfg.input, cfg.privacy)


def test_parse_dates_mixed_formats():
    values = pd.Series(["9/18/2026", "2026-09-18", "09-18-26", "09/18/2026", "2026/09/18",
                        "Sep 18, 2026", "2026-09-18 14:03:00", "2026-13-45", "yesterday", None])
    parsed, used = parse_dates(values)
    expected = pd.Timestamp("2026-09-18")
    assert (parsed.iloc[:6] == expected).all()
    assert parsed.iloc[6] == pd.Timestamp("2026-09-18 14:03:00")
    assert parsed.iloc[7:].isna().all()
    assert used["ISO8601"] == 3 and used["%m/%d/%Y"] == 2


def test_parse_dates_dayfirst():
    parsed, _ = parse_dates(pd.Series(["18/09/2026", "2026-09-18"]), dayfirst=True)
    assert (parsed == pd.Timestamp("2026-09-18")).all()


@pytest.mark.parametrize("raw, expected", [
    ("$1,234.50", 1234.5), ("1,234", 1234.0), ("  45.00 ", 45.0), ("USD 12", 12.0),
    ("€3.5", 3.5), ("(12.50)", -12.5), ("-5", -5.0), ("1,234,567.1", 1234567.1),
])
def test_parse_number_accepts_money_formats(raw, expected):
    assert parse_number(pd.Series([raw])).iloc[0] == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["twelve", "N/A", "12..5", "12,50", "1.2.3"])
def test_parse_number_rejects_non_numbers(raw):
    assert pd.isna(parse_number(pd.Series([raw])).iloc[0])


def test_text_normalisers():
    assert clean_text(pd.Series(["  a   b ", "   ", None])).tolist()[0] == "a b"
    assert clean_text(pd.Series(["   "])).isna().all()
    assert normalise_customer_id(pd.Series([" 1042.0 ", "A-7"])).tolist() == ["1042", "A-7"]
    assert normalise_gender(pd.Series(["F", " Female", "male", "nonbinary", None])).tolist()[:4] == [
        "female", "female", "male", "other"]
    us = ("usa", "us", "united states")
    assert normalise_country(pd.Series(["United States", "usa", "uk", "Germany"]), us).tolist() == [
        "USA", "USA", "UK", "Germany"]


def test_income_bands_from_words_and_numbers():
    income, band = normalise_income(pd.Series(["Low", "HIGH", " medium", None]))
    assert income.isna().all() and band.tolist()[:3] == ["low", "high", "medium"]
    income, band = normalise_income(pd.Series(["$35,000", "70000", "250000"]))
    assert income.tolist() == [35000.0, 70000.0, 250000.0]
    assert band.tolist() == ["low", "medium", "high"]


def test_messy_rows_are_repaired_and_bad_rows_quarantined(tmp_path):
    rows = [
        retail_row(1, "101", state="  OHIO ", date="9/18/2026", total="$1,020.00", amount="510", qty="2"),
        retail_row(2, "101", state="oh", date="2026-09-19"),
        retail_row(3, "102", state="new york", date="09-20-26", country="United States"),
        retail_row(4, "103", state="Ontario", country="Canada"),
        retail_row(5, "104", state="Narnia"),
        retail_row(6, "", date="2026-09-18"),                  # missing id
        retail_row(7, "105", date="2026-13-45"),               # bad date
        retail_row(8, "105", total="twelve"),                  # bad amount
        retail_row(9, "105", total="-20"),                     # negative
        retail_row(10, "105", qty="0", total="5"),             # quantity
        retail_row(11, "106", total="", amount="4", qty="3"),  # total derived
    ]
    rows.append(dict(rows[1]))  # exact duplicate
    result = _ingest(write_retail(tmp_path / "r.csv", rows))
    tx = result.transactions
    assert set(tx["transaction_id"]) == {"1", "2", "3", "4", "5", "11"}
    assert tx.loc[tx["transaction_id"] == "1", "total"].item() == 1020.0
    assert tx.loc[tx["transaction_id"] == "11", "total"].item() == 12.0
    assert (tx["date"].dt.month == 9).all()
    customers = result.customers.set_index("customer_id")
    assert customers.loc["101", "state"] == "OH" and customers.loc["102", "state"] == "NY"
    assert customers.loc["103", "country"] == "Canada" and not customers.loc["103", "is_us"]
    assert pd.isna(customers.loc["103", "state"]) and customers.loc["103", "region"] == "Ontario"
    assert pd.isna(customers.loc["104", "state"]) and customers.loc["104", "is_us"]
    q = result.quality
    assert q["totals"] == {"rows_read": 12, "rows_kept": 6, "duplicates_dropped": 1, "rows_quarantined": 5}
    assert q["quarantined_by_reason"] == {"amount_not_a_number": 1, "customer_id_missing": 1,
                                          "date_unparseable": 1, "negative_amount": 1,
                                          "quantity_invalid": 1}
    assert q["files"]["retail_table"]["unknown_states"] == 1
    assert q["non_us_customers_by_country"] == {"Canada": 1}
    quarantine = result.quarantine
    assert sorted(quarantine["Transaction_ID"]) == ["10", "6", "7", "8", "9"]
    assert quarantine.set_index("Transaction_ID").loc["8", "reason"] == (
        "Total_Amount: amount is not a number: 'twelve'")
    assert not {"Name", "Email", "Phone", "Address", "City", "Zipcode"} & set(quarantine.columns)


def test_no_valid_row_is_lost(tmp_path):
    rows = [retail_row(i, str(100 + i % 7), date=f"2026-09-{1 + i % 28:02d}") for i in range(200)]
    rows[5]["Total_Amount"] = "oops"
    rows[9]["Customer_ID"] = " "
    result = _ingest(write_retail(tmp_path / "r.csv", rows))
    t = result.quality["totals"]
    assert t["rows_kept"] + t["rows_quarantined"] + t["duplicates_dropped"] == t["rows_read"] == 200
    assert len(result.transactions) == 198


def test_malformed_lines_are_quarantined_with_line_number(tmp_path):
    path = write_retail(tmp_path / "r.csv", [retail_row(1, "7"), retail_row(2, "8")])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("3,9,too,few,fields\n")
    result = _ingest(path)
    assert len(result.transactions) == 2
    row = result.quarantine[result.quarantine["reason_code"] == "malformed_line"]
    assert len(row) == 1 and "line 4: 5 fields, expected 30" in row["reason"].item()


def test_review_text_is_scrubbed_of_personal_data(tmp_path):
    rows = [retail_row(1, "7", name="Maria Lopez",
                       feedback="Maria Lopez here: great coat, mail maria.7@example.com or call (555) 201-0007",
                       rating="5")]
    result = _ingest(write_retail(tmp_path / "r.csv", rows))
    text = result.reviews["text"].item()
    assert text == "[name] here: great coat, mail [email] or call [phone]"
    assert result.reviews["rating"].item() == 5.0


def test_customer_ids_hashed_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMENT_REPORT_SALT", "s3cret")
    rows = [retail_row(1, "7", feedback="nice", rating="4"), retail_row(2, "", date="2026-09-02"),
            retail_row(3, "8", total="bad")]
    result = _ingest(write_retail(tmp_path / "r.csv", rows), **{"privacy.hash_customer_ids": True})
    hashed = result.transactions["customer_id"].item()
    assert hashed != "7" and len(hashed) == 16
    assert result.reviews["customer_id"].item() == hashed
    assert result.customers["customer_id"].item() == hashed
    assert "8" not in set(result.quarantine["Customer_ID"].dropna())
    again = _ingest(write_retail(tmp_path / "r2.csv", rows), **{"privacy.hash_customer_ids": True})
    assert again.transactions["customer_id"].item() == hashed  # same salt, same hash


def test_parquet_input(tmp_path):
    csv_path = write_retail(tmp_path / "r.csv", [retail_row(1, "7"), retail_row(2, "8", total="$3.50")])
    frame = pd.read_csv(csv_path, dtype=str)
    frame["Age"] = pd.to_numeric(frame["Age"])
    frame.to_parquet(tmp_path / "r.parquet")
    result = _ingest(tmp_path / "r.parquet")
    assert result.transactions["total"].tolist() == [20.0, 3.5]
    assert result.customers["age"].tolist() == [34.0, 34.0]


def test_tables_mode_with_custom_column_names(tmp_path):
    (tmp_path / "c.csv").write_text(
        "cid,full_name,mail,st,nation,years,sex,earnings\n"
        "A1,Ann Lee,ann@example.com,tx,USA,41,F,52000\n"
        "A2,Bo Kim,bo@example.com,California,USA,29,M,120000\n"
        "A2,Bo Kim,bo@example.com,California,USA,29,M,120000\n"
        ",No Id,x@example.com,OH,USA,1,F,1\n")
    (tmp_path / "t.csv").write_text(
        "order,cid,when,items,paid,cat\n"
        "o1,A1,2026-09-01,2,$40.00,Books\n"
        "o2,A2,9/2/2026,1,15,home decor\n"
        "o3,A3,2026-09-03,1,10,Books\n"
        "o4,A1,not a date,1,10,Books\n")
    (tmp_path / "r.csv").write_text(
        "rid,cid,posted,body,stars\n"
        "r1,A1,2026-09-05,Great read - Ann Lee,5\n"
        "r2,,2026-09-05,orphan,1\n")
    config = tmp_path / "tables.yaml"
    config.write_text("""
input:
  mode: tables
  customers: {path: c.csv, columns: {customer_id: cid, name: full_name, email: mail, state: st,
              country: nation, age: years, gender: sex, income: earnings}}
  transactions: {path: t.csv, columns: {transaction_id: order, customer_id: cid, date: when,
                 quantity: items, total: paid, category: cat}}
  reviews: {path: r.csv, columns: {review_id: rid, customer_id: cid, date: posted, text: body,
            rating: stars}}
""")
    cfg = load_config(config)
    result = ingest(cfg.input, cfg.privacy)
    assert result.transactions["transaction_id"].tolist() == ["o1", "o2", "o3"]
    assert result.transactions["category"].tolist() == ["Books", "Home Decor", "Books"]
    customers = result.customers.set_index("customer_id")
    assert list(customers.index) == ["A1", "A2", "A3"]  # A3 known only from transactions
    assert customers.loc["A1", "state"] == "TX" and customers.loc["A1", "income_band"] == "medium"
    assert customers.loc["A2", "income_band"] == "high"
    assert result.reviews["text"].tolist() == ["Great read - [name]"]
    q = result.quality
    assert q["files"]["customers"]["duplicates_dropped"] == 1
    assert q["files"]["transactions"]["transactions_without_customer_record"] == 1
    assert q["quarantined_by_reason"] == {"customer_id_missing": 2, "date_unparseable": 1}
    assert "full_name" not in result.quarantine.columns and "mail" not in result.quarantine.columns


def test_review_title_is_joined_with_its_text_and_scrubbed(tmp_path):
    (tmp_path / "c.csv").write_text("cid,full_name,st\nA1,Ann Lee,OH\nA2,Bo Kim,TX\n")
    (tmp_path / "t.csv").write_text("cid,when,paid\nA1,2026-09-01,40\nA2,2026-09-02,15\n")
    (tmp_path / "r.csv").write_text(
        "cid,body,stars,headline\n"
        "A1,Fits well,5,Love it\n"
        "A2,Runs small,2,Ask Bo Kim!\n"
        "A1,No title here,4,\n"
        "A2,,1,Title only\n")
    config = tmp_path / "tables.yaml"
    config.write_text("""
input:
  mode: tables
  customers: {path: c.csv, columns: {customer_id: cid, name: full_name, state: st}}
  transactions: {path: t.csv, columns: {customer_id: cid, date: when, total: paid}}
  reviews: {path: r.csv, columns: {customer_id: cid, text: body, rating: stars, title: headline}}
""")
    cfg = load_config(config)
    result = ingest(cfg.input, cfg.privacy)
    assert result.reviews["text"].tolist() == ["Love it. Fits well", "Ask [name]! Runs small",
                                               "No title here", "Title only"]


def test_a_10mb_field_quarantines_its_row_and_the_rest_is_read(tmp_path):
    """A value beyond the CSV parser's block (and the csv module's 128 KiB field limit) is a row
    problem: its row is quarantined with the reason, the other rows are kept, counts add up."""
    huge = "x" * (10 << 20)
    rows = [retail_row(i, str(100 + i), feedback="fine") for i in range(1, 6)]
    rows[2]["Feedback"] = huge
    path = write_retail(tmp_path / "r.csv", rows)
    result = _ingest(path)
    t = result.quality["totals"]
    assert t == {"rows_read": 5, "rows_kept": 4, "duplicates_dropped": 0, "rows_quarantined": 1}
    assert sorted(result.transactions["transaction_id"]) == ["1", "2", "4", "5"]
    assert result.quality["quarantined_by_reason"] == {"field_too_large": 1}
    assert "field_too_large" in result.quality["reason_descriptions"]
    assert result.quality["files"]["retail_table"]["fields_too_large"] == 1
    row = result.quarantine.set_index("Transaction_ID").loc["3"]
    assert row["reason_code"] == "field_too_large"
    assert row["reason"] == ("Feedback: value of 10,485,760 bytes, more than input.max_field_bytes "
                             "(1,048,576); not copied")
    assert len(row["Feedback"]) < 100  # the value itself is never copied
    assert all(len(str(v)) < 1000 for v in result.reviews["text"])


def test_a_huge_field_in_a_quoted_multiline_value_and_a_huge_header(tmp_path):
    """Quoted values with newlines, a header name over the csv module's default limit."""
    long_name = "N" * 200_000
    path = tmp_path / "r.csv"
    body = "x\n" * (3 << 20)  # 6 MiB over many lines inside one quoted value
    path.write_text(f"Customer_ID,Date,Total_Amount,{long_name}\n1,2026-09-01,5,a\n"
                    f'2,2026-09-02,6,"{body}"\n3,2026-09-03,7,c\n', encoding="utf-8")
    result = _ingest(path, **{"input.max_field_bytes": 4 << 20})
    assert sorted(result.transactions["customer_id"]) == ["1", "3"]
    assert result.quality["quarantined_by_reason"] == {"field_too_large": 1}
    t = result.quality["totals"]
    assert t["rows_read"] == 3 == t["rows_kept"] + t["rows_quarantined"]


def test_max_field_bytes_applies_to_parquet(tmp_path):
    frame = pd.DataFrame({"Customer_ID": ["1", "2"], "Date": ["2026-09-01", "2026-09-02"],
                          "Total_Amount": ["5", "6"], "Feedback": ["ok", "y" * 5000]})
    frame.to_parquet(tmp_path / "r.parquet")
    result = _ingest(tmp_path / "r.parquet", **{"input.max_field_bytes": 1024})
    assert result.transactions["customer_id"].tolist() == ["1"]
    assert result.quarantine["reason_code"].tolist() == ["field_too_large"]
