"""The segments stage, one module per part: ``features`` (the feature matrix), ``clustering``
(UMAP + HDBSCAN), ``model`` (the saved segment model), ``stability`` (bootstrap refits),
``carry_over`` (ids and names from last month), ``personas`` (profiles, names, descriptions)
and ``stage`` (:func:`segment_customers`).
"""
