"""Drivers: what is associated with customer value, overall and per persona.

Flow (:func:`explain_drivers` in ``stage``, no I/O; one module per step):

1. Features (``features``): numeric columns of the customer table are used as they are, booleans as 0/1,
   ``income_band`` as an ordered code (low < medium < high), other text columns with few
   levels one-hot encoded. Identifiers, ``state``/``country`` (geography has its own stage; the
   model keeps ``is_us``), segment columns and the target are never value-model inputs.
   Missing numbers are filled with the median plus a ``<name>_missing`` indicator.
2. Leakage guard (``model``): on a row sample, every single feature and every pair's product, ratios and
   sum is scored against the target (the best of Pearson r², Spearman rho² and, for larger
   samples, a binned R²). Scores >= ``drivers.leakage_r2`` mean the target can be rebuilt from
   the inputs (``avg_order_value x frequency = monetary``); such features are excluded with a
   note, as are ``drivers.exclude_features``.
3. Value model (``model``): a bounded RandomForestRegressor; held-out R² and MAE.
4. SHAP (``explain``; TreeExplainer, exact path-dependent TreeSHAP) on a segment-stratified sample with
   inverse-probability weights; a stratified bootstrap gives confidence intervals for mean
   |SHAP| and for each top feature's effect. A feature is "within noise" when its |SHAP|
   interval reaches the floor set by three random probe columns trained with the model, its
   effect interval includes zero, or its share of importance is below ``drivers.min_share``.
   Additivity (base value + SHAP sum = prediction) is checked on every explained row.
5. Per-segment mean SHAP (``explain``), and one-vs-rest RandomForestClassifier membership models explained
   with SHAP (what defines each persona).
6. Findings (``findings``): what the report says, as kinds with the rounded numbers stored
   in the report and the JSON pointers they come from; ``segment_report.reports.narrative``
   writes the sentences.
"""

from segment_report.pipeline.stages.drivers.features import driver_group, feature_label
from segment_report.pipeline.stages.drivers.numbers import round_sig
from segment_report.pipeline.stages.drivers.stage import DriversResult, explain_drivers

__all__ = ["DriversResult", "driver_group", "explain_drivers", "feature_label",
           "round_sig"]
