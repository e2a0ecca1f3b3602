"""Geography stage: per-state sentiment with intervals and shrinkage, spatial clustering.

Method (stated in ``states.json`` too):

* Each customer with at least one scored review contributes one value (``positive_prob``,
  the mean P(positive) of their reviews); customers with imputed sentiment are counted but
  never averaged.
* Per state: the mean with a 95% t-interval, and an empirical-Bayes estimate shrunk toward
  the national mean (normal-normal model; within-state variance pooled over all states,
  between-state variance by DerSimonian-Laird moments). Small states move most of the way
  to the national mean, so they cannot look extreme by chance.
* States with fewer than ``geography.min_customers`` customers (or no reviewer) are flagged
  ``insufficient_data``: greyed on maps, never ranked, never tested for clustering.
* Spatial weights: Queen contiguity on the polygons, row-standardised. Regions with no
  neighbour (Alaska, Hawaii) are left out of Moran's I and LISA (``islands: exclude``) or
  linked to their nearest region (``islands: nearest``).
* Global Moran's I and local Moran (LISA) on the shrunk estimates, conditional permutation
  pseudo p-values (seeded). Tested states: enough data and at least one neighbour.
* Multiple testing, two steps, each Benjamini-Hochberg FDR at ``geography.alpha``:
  (1) each tested state's own mean against the national mean (z-test, pooled variance);
  (2) the local Moran p-values of the states passing (1) whose LISA quadrant has the same
  direction. Step 1 stops average states next to a real cluster from being flagged through
  their neighbours' values (the LISA "halo"); because the conditional permutation holds a
  state's own value fixed, selecting on that value leaves the step-2 p-values valid. A state
  gets a LISA class (HH/LL/HL/LH) only when it passes both; a hotspot is a significant HH
  (high) or LL (low) state.

Modules: ``estimates`` (customers to regions, per-region means, intervals and shrinkage),
``spatial`` (weights, Moran's I, local Moran and the two-step multiple-testing rule),
``findings`` (what ``states.json`` says, as data) and ``stage`` (the stage function).
"""

from segment_report.pipeline.stages.geography.findings import FINDING_KINDS, build_findings
from segment_report.pipeline.stages.geography.spatial import (SKIP_CODES, benjamini_hochberg,
                                                               local_moran_pvalues)
from segment_report.pipeline.stages.geography.stage import GeographyResult, analyse_geography

__all__ = ["FINDING_KINDS", "SKIP_CODES", "GeographyResult", "analyse_geography",
           "benjamini_hochberg", "build_findings", "local_moran_pvalues"]
