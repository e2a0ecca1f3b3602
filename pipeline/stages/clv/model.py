"""The buy-till-you-die models behind churn risk and lifetime value, from pymc-marketing.

A customer's purchase history is summarised as in the BTYD literature (``rfm_summary``):
``frequency`` is the number of repeat purchase days (orders on the same day count once),
``recency`` the weeks from the first to the last purchase, ``T`` the weeks from the first
purchase to the end of the observation period and ``monetary_value`` the mean spend of the
repeat purchase days. Time is in weeks because the library's default priors are scaled for
it (in days, the prior on the purchase-rate scale pulls the fit away from the data). The
Modified BG/NBD model (Batislam et al. 2007) gives orders and dropout; unlike the plain BG/NBD it lets a customer drop out right after the first order, so a
single order long ago does not mean "certainly still active". The Gamma-Gamma model gives the
expected order value; it is fitted on repeat customers with a positive mean order value, and a
customer without one (a single order, or only zero-spend repeat orders) gets the model's
population mean. Both are fitted by MAP (no sampling) with the library's default priors, but
for the persona coefficients (see :func:`_coefficient_priors`).

Customers of different personas buy and lapse at different rates; one population prior for
all of them would pull a lapsing persona towards the loyal majority (seen on generated data: a
persona that had stopped buying months ago came out 71 % active). The persona is therefore a
covariate of both the purchase and the dropout rate (one indicator column per persona, see
:func:`with_personas` for the reference level).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: the models' time unit is a week; weeks per month as pymc-marketing's ``customer_lifetime_value``
#: counts them
DAYS_PER_WEEK = 7
WEEKS_PER_MONTH = 4.345
COVARIATE_PREFIX = "persona_"
COEFFICIENT_PRIOR_SD = 5.0
#: the pymc-marketing model of orders and dropout (``benchmarks/bench_clv.py --orders-model`` compares others)
ORDER_MODEL = "ModifiedBetaGeoModel"


#: pytensor's light graph rewrites: the models' graphs are small, and the default rewrites took
#: two thirds of a fit (7.8 s -> 5.2 s for both fits of a 4,800-customer run, same numbers)
PYTENSOR_FLAGS = "optimizer=fast_compile"


def _pytensor_defaults() -> None:
    """Apply :data:`PYTENSOR_FLAGS` unless pytensor is imported already or the user set them."""
    import os
    import sys

    if "pytensor" not in sys.modules:
        os.environ.setdefault("PYTENSOR_FLAGS", PYTENSOR_FLAGS)


@contextlib.contextmanager
def _quiet_pytensor() -> Iterator[Any]:
    """pymc-marketing's ``clv`` module without pytensor's BLAS and FutureWarnings.

    pytensor compiles the models' C code into its cache folder (``~/.pytensor``, or
    ``PYTENSOR_FLAGS=base_compiledir=...``): about 30 s on 2 cores the first time on a machine,
    then a few seconds per fit. Its flags are read once, at import: when pytensor is not yet
    imported and ``PYTENSOR_FLAGS`` is unset, :data:`PYTENSOR_FLAGS` applies.
    """
    _pytensor_defaults()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="pymc_marketing")
        warnings.filterwarnings("ignore", category=FutureWarning)
        from pymc_marketing import clv

        yield clv


def purchase_history(transactions: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Per customer with a purchase on or before ``end``: frequency (repeat purchase days),
    recency and T (weeks) and monetary_value, as the BTYD models expect them (see the module
    docstring)."""
    _pytensor_defaults()
    from pymc_marketing.clv.utils import rfm_summary

    tx = transactions.loc[transactions["date"] < end + pd.Timedelta(days=1), ["customer_id", "date", "total"]]
    if tx.empty:
        return pd.DataFrame(columns=["customer_id", "frequency", "recency", "T", "monetary_value"])
    tx = tx.assign(date=tx["date"].dt.normalize(), customer_id=tx["customer_id"].astype(str))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        rfm = rfm_summary(tx, "customer_id", "date", "total", observation_period_end=end.normalize(),
                          time_unit="D", time_scaler=DAYS_PER_WEEK)
    return rfm.astype({"frequency": "float64", "recency": "float64", "T": "float64",
                       "monetary_value": "float64"}).sort_values("customer_id", ignore_index=True)


@dataclass
class FittedModels:
    """The fitted transaction (orders + dropout) and spend models, and what they were fitted on."""

    orders: Any
    spend: Any
    fitted_on: int
    spend_fitted_on: int

    def parameters(self) -> dict[str, dict[str, Any]]:
        """The MAP estimates of both models' population parameters and covariate coefficients
        (not the per-customer values derived from them); time in weeks."""
        def params(model: Any) -> dict[str, Any]:
            post = model.idata.posterior
            return {k: (float(v.ravel()[0]) if v.size == 1 else [float(x) for x in v.ravel()])
                    for k in post.data_vars if "customer_id" not in post[k].dims
                    for v in [post[k].values]}
        return {"orders": params(self.orders), "spend": params(self.spend)}


def covariate_columns(history: pd.DataFrame) -> list[str]:
    """The persona indicator columns of ``history`` (see :func:`with_personas`)."""
    return [c for c in history.columns if c.startswith(COVARIATE_PREFIX)]


def with_personas(history: pd.DataFrame, segment_of: pd.Series) -> pd.DataFrame:
    """``history`` with one 0/1 column per persona in ``segment_of`` (segment id by customer
    id). The reference level (no column) is the customers outside the personas, or, when every
    customer has one, the largest persona; a persona with fewer than two customers in the
    history is left in the reference level too."""
    seg = history["customer_id"].map(segment_of)
    sizes = seg.value_counts()
    levels = sorted(sizes.index[sizes >= 2])
    if seg.notna().all() and levels:
        levels.remove(sizes.idxmax())
    out = history.copy()
    for sid in levels:
        out[f"{COVARIATE_PREFIX}{sid}"] = (seg == sid).astype("float64").to_numpy()
    return out


def _coefficient_priors() -> dict[str, Any]:
    """Wider priors than the library's N(0, 1) on the persona coefficients (log scale): a
    persona that has lapsed and a loyal one differ in dropout by orders of magnitude, which
    N(0, 1) shrinks away (seen on generated data: a lapsed persona 64 % active at a 3-month
    cut-off with N(0, 1), 19 % with N(0, 5))."""
    from pymc_extras.prior import Prior

    return {"purchase_coefficient": Prior("Normal", mu=0, sigma=COEFFICIENT_PRIOR_SD),
            "dropout_coefficient": Prior("Normal", mu=0, sigma=COEFFICIENT_PRIOR_SD)}


def fit_models(history: pd.DataFrame, sample_size: int, seed: int) -> FittedModels:
    """Fit both models by MAP on a seeded sample of at most ``sample_size`` customers, the
    persona columns of ``history`` as covariates of the order model."""
    sample = history
    if len(history) > sample_size:
        sample = history.sample(n=sample_size, random_state=seed).sort_values("customer_id")
    repeat = sample[(sample["frequency"] > 0) & (sample["monetary_value"] > 0)]
    covariates = [c for c in covariate_columns(sample) if sample[c].any() and not sample[c].all()]
    with _quiet_pytensor() as clv:
        orders = getattr(clv, ORDER_MODEL)(
            model_config={"purchase_covariate_cols": covariates, "dropout_covariate_cols": covariates,
                          **_coefficient_priors()})
        orders.fit(data=sample[["customer_id", "frequency", "recency", "T", *covariates]], method="map",
                   progressbar=False)
        spend = clv.GammaGammaModel()
        spend.fit(data=repeat[["customer_id", "frequency", "monetary_value"]], method="map", progressbar=False)
    return FittedModels(orders, spend, len(sample), len(repeat))


def _values(array: Any) -> np.ndarray:
    """A MAP prediction (chain x draw x customer, one chain and draw) as one value per customer."""
    return np.asarray(array.mean(dim=[d for d in array.dims if d in ("chain", "draw")]).values, dtype="float64")


def score_customers(models: FittedModels, history: pd.DataFrame, horizon_months: int,
                    monthly_discount_rate: float) -> pd.DataFrame:
    """Per customer of ``history``: ``p_active`` (probability of still being active at the end
    of the history), ``expected_orders`` and ``expected_spend`` over the horizon, the expected
    ``order_value`` and ``clv`` (the horizon's spend, discounted monthly)."""
    data = _order_data(models, history)
    order_value = order_values(models, history)
    with _quiet_pytensor() as clv:
        p_active = _values(models.orders.expected_probability_alive(data=data))
        orders = _values(models.orders.expected_purchases(data=data, future_t=horizon_months * WEEKS_PER_MONTH))
        value = _values(clv.customer_lifetime_value(
            models.orders, data.assign(future_spend=order_value), future_t=horizon_months,
            discount_rate=monthly_discount_rate, time_unit="W"))
    return pd.DataFrame({"customer_id": history["customer_id"].to_numpy(), "p_active": p_active,
                         "expected_orders": orders, "order_value": order_value,
                         "expected_spend": orders * order_value, "clv": value})


def order_values(models: FittedModels, history: pd.DataFrame) -> np.ndarray:
    """Expected order value of each customer of ``history``: the spend model's estimate from
    the customer's repeat orders, the population mean for a customer without a positive one."""
    valued = (history["frequency"] > 0) & (history["monetary_value"] > 0)
    spend_in = pd.DataFrame({"customer_id": history["customer_id"],
                             "frequency": history["frequency"].where(valued, 0.0),
                             "monetary_value": history["monetary_value"].where(valued, 1.0)})
    with _quiet_pytensor():
        return _values(models.spend.expected_customer_spend(data=spend_in))


def expected_orders(models: FittedModels, history: pd.DataFrame, days: float) -> np.ndarray:
    """Expected purchase days of each customer of ``history`` in the next ``days``."""
    with _quiet_pytensor():
        return _values(models.orders.expected_purchases(data=_order_data(models, history),
                                                        future_t=days / DAYS_PER_WEEK))


def _order_data(models: FittedModels, history: pd.DataFrame) -> pd.DataFrame:
    """The columns the order model was fitted with (a persona it did not see is all zeros)."""
    covariates = list(dict.fromkeys(models.orders.covariate_cols))
    data = history.reindex(columns=["customer_id", "frequency", "recency", "T", *covariates])
    return data.fillna({c: 0.0 for c in covariates})
