"""Words for the stages' diagnostic codes: notes (``drivers.json``, ``changes.json``,
``segments.json`` ``summary.warnings``, ``clv.json``), dropped driver features and the spatial statistics'
method identifiers and skip reasons (``states.json`` ``spatial``).

Each stage declares its closed list of codes next to the code that emits them; a test ties
every code to a writer here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from segment_report.reports import formatting as fmt

_Writer = Callable[[Mapping[str, Any]], str]

#: ``notes`` / ``warnings`` codes -> sentence (``params`` are the note's numbers and names).
NOTES: dict[str, _Writer] = {
    # drivers
    "exclude_feature_unknown": lambda v: (f"drivers.exclude_features names '{v['feature']}', which "
                                          "is not a feature of this table."),
    "target_missing": lambda v: (f"{fmt.plural(v['customers'], 'customer')} without a "
                                 f"{v['target']} value were left out."),
    "few_customers": lambda v: (f"Only {fmt.number(v['customers'])} customers (fewer than "
                                f"{fmt.number(v['threshold'])}): model metrics and drivers are "
                                "rough; read them as indications."),
    # changes
    "no_previous_run": lambda v: ("No previous period's run in the output folder: no "
                                  "month-over-month comparison."),
    # segments
    "too_few_customers": lambda v: (f"Only {fmt.number(v['customers'])} customers: too few to "
                                    "segment, every customer is in one segment (need at least "
                                    f"{fmt.number(v['needed'])} customers with different profiles)."),
    "too_few_profiles": lambda v: (f"Only {fmt.number(v['profiles'])} distinct feature profiles: "
                                   "too few to segment, every customer is in one segment (need at "
                                   f"least {fmt.number(v['needed'])})."),
    "feature_imputed": lambda v: (f"Feature '{v['feature']}' is missing from this table; imputed "
                                  "with the fitted median."),
    "no_setting_in_range": lambda v: (f"No HDBSCAN setting gave between {v['min_segments']} and "
                                      f"{v['max_segments']} segments; using the closest "
                                      f"({v['closest']})."),
    "no_dense_groups": lambda v: "HDBSCAN found no dense groups: every customer is in one segment.",
    "segments_out_of_range": lambda v: (f"{v['segments']} segments, outside the configured range "
                                        f"{v['min_segments']}-{v['max_segments']}."),
    # clv
    "clv_disabled": lambda v: ("Churn risk and lifetime value were not estimated: the CLV stage is "
                               "switched off (clv.enabled is false)."),
    "clv_short_history": lambda v: (f"Churn risk and lifetime value were not estimated: the purchase "
                                    f"history covers {fmt.plural(v['months'], 'month')}, fewer than the "
                                    f"{fmt.number(v['needed'])} the models need (clv.min_history_months)."),
    "clv_few_repeat_customers": lambda v: (f"Churn risk and lifetime value were not estimated: only "
                                           f"{fmt.plural(v['customers'], 'customer')} bought on more than "
                                           f"one day, fewer than the {fmt.number(v['needed'])} the models "
                                           "need (clv.min_repeat_customers)."),
    "clv_no_previous": lambda v: ("No previous month's customer scores to compare with: no change in "
                                  "churn risk or lifetime value this month."),
}

#: ``drivers.json`` ``features.dropped[].code`` -> why the column is not in the value model.
DROPPED: dict[str, _Writer] = {
    "geography_column": lambda v: ("geography is analysed in its own stage; the value model uses "
                                   "is_us instead of 50 state levels"),
    "too_many_levels": lambda v: (f"text column with {fmt.number(v['levels'])} levels (more than "
                                  f"drivers.max_category_levels = {v['limit']})"),
    "all_missing": lambda v: "no values (all missing)",
    "constant": lambda v: "the same value for every customer",
}

#: ``states.json`` ``spatial.skipped`` -> why no spatial statistics were computed.
SPATIAL_SKIPPED: dict[str, str] = {
    "too_few_regions": "fewer than 3 connected regions",
    "no_variation": ("no between-region variation after shrinkage: the data show no difference "
                     "between regions to cluster"),
    "no_scored_reviews": "no customer with a scored review in any region",
}

#: The multiple-testing correction the local clusters are screened with, in words.
FDR = "Benjamini-Hochberg false discovery rate"


def note_text(note: Mapping[str, Any]) -> str:
    """One note (``{"code", "params"}``) in words."""
    return NOTES[note["code"]](note.get("params", {}))


def dropped_text(entry: Mapping[str, Any]) -> str:
    """Why a dropped driver feature (``{"feature", "code", "params"}``) is left out."""
    return DROPPED[entry["code"]](entry.get("params", {}))


def multiple_testing_text(spatial: Mapping[str, Any]) -> str:
    """How the local clusters are tested (``states.json`` ``spatial``), for the methodology."""
    return (f"two steps, each with {FDR} (FDR) control at q = {fmt.rounded(spatial['alpha'])}: (1) each "
            "tested region's own mean against the national mean (z-test, pooled variance); (2) "
            "local Moran pseudo p-values of the regions passing step 1 whose quadrant matches the "
            "direction of their difference. A LISA class is reported only for regions passing both")
