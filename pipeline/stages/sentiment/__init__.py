"""The sentiment stage and the sentiment model, one module per part:

``text`` (cleaning review text), ``labels`` (label names and rules), ``model`` (the shipped
adapter, the installed base model, precision), ``cache`` (the SQLite score cache),
``scorer`` (:class:`SentimentScorer`), ``evaluate`` (metrics against true labels), ``train``
(fine-tuning), ``files`` (review files of the ``sentiment`` commands) and ``stage``
(:func:`run_sentiment_stage`). Each imports only those listed before it, except ``stage``,
which imports ``train`` when it fine-tunes.
"""
