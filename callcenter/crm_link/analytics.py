"""Customer analytics over plain data: RFM, value pyramid, value matrix, CLV, churn risk,
repeat contacts.

Every function is pure (no I/O, no clock: ``today`` / ``at`` are arguments) and works on
small frozen dataclasses or mappings, so the same code serves one customer on an agent's
screen and a nightly run over a million. Population scores are rank-based: one sort per
dimension, then a single pass, so ``n`` customers cost ``O(n log n)``, never ``O(n^2)``.
The formulas, tie rules and thresholds are written out in docs/crm-analytics.md.
"""

from __future__ import annotations

import itertools
import math
import statistics
from bisect import bisect_left
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Order:
    day: date
    amount: float


@dataclass(frozen=True, slots=True)
class CustomerActivity:
    """What RFM needs about one customer; ``last_order`` is None for one who never bought."""

    customer_id: str
    last_order: date | None
    order_count: int
    total_amount: float


def activity_from_orders(customer_id: str, orders: Iterable[Order]) -> CustomerActivity:
    """Fold a customer's orders (any order, any number, possibly none) into its activity."""
    last: date | None = None
    count, total = 0, 0.0
    for o in orders:
        count += 1
        total += o.amount
        if last is None or o.day > last:
            last = o.day
    return CustomerActivity(customer_id, last, count, total)


# --- RFM ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RfmScore:
    recency: int  # 1..5, 5 = bought most recently
    frequency: int  # 1..5, 5 = buys most often
    monetary: int  # 1..5, 5 = spends most

    @property
    def code(self) -> str:
        """The usual three-digit cell label, e.g. "545"."""
        return f"{self.recency}{self.frequency}{self.monetary}"


# 125 possible scores: share them rather than build a million equal objects
_RFM_CELLS = {(r, f, m): RfmScore(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}


def rfm_scores(
    customers: Sequence[CustomerActivity],
    today: date,
    *,
    monetary: Literal["total", "mean"] = "total",
) -> dict[str, RfmScore]:
    """Score each customer 1-5 on recency, frequency and monetary value by quintile of the
    population passed in.

    ``score = 1 + floor(5 * worse / n)`` where ``worse`` counts customers strictly worse on
    that dimension; tied customers therefore share a score, the lower one a tie straddles.
    Recency is days from the last order to ``today`` (never bought = worst); monetary is the
    total spend or, with ``monetary="mean"``, the mean order value (0 without orders)."""
    if monetary not in ("total", "mean"):
        raise ValueError('monetary is "total" or "mean"')
    recency = [
        -math.inf if c.last_order is None else -float((today - c.last_order).days) for c in customers
    ]  # negated: higher is better on every dimension
    frequency = [float(c.order_count) for c in customers]
    if monetary == "total":
        money = [c.total_amount for c in customers]
    else:
        money = [c.total_amount / c.order_count if c.order_count else 0.0 for c in customers]
    r, f, m = _quintiles(recency), _quintiles(frequency), _quintiles(money)
    return {c.customer_id: _RFM_CELLS[r[i], f[i], m[i]] for i, c in enumerate(customers)}


def _quintiles(values: list[float]) -> list[int]:
    """``1 + floor(5 * worse / n)`` for each value, ``worse`` = how many are strictly lower.

    ``5 * worse // n >= k`` exactly when at least ``m_k = ceil(k n / 5)`` values are lower,
    i.e. when the value exceeds ``sorted[m_k - 1]``; so one sort gives four thresholds and
    each score is a bisection among them."""
    n = len(values)
    if n == 0:
        return []
    ordered = sorted(values)
    thresholds = [ordered[-(-k * n // 5) - 1] for k in range(1, 5)]
    return [1 + bisect_left(thresholds, v) for v in values]


# --- customer pyramid --------------------------------------------------------------------

PYRAMID_LEVELS = ("top", "key", "regular", "small")


def pyramid_levels(
    values: Mapping[K, float], *, shares: tuple[float, float, float] = (0.01, 0.04, 0.15)
) -> dict[K, str]:
    """Place customers on the value pyramid: the top ``shares[0]`` of customers by value are
    "top", the next ``shares[1]`` "key", the next ``shares[2]`` "regular", the rest "small".

    A customer belongs to a level when the customers valued at or above it make up no more
    than the level's cumulative share, so a level never exceeds its share: customers tied
    across a cut all go to the lower level. Customers worth 0 or less are always "small"."""
    if any(s < 0 for s in shares) or sum(shares) > 1:
        raise ValueError("shares are fractions adding up to at most 1")
    n = len(values)
    limits = []  # most customers (valued at or above) a level may hold, cumulative
    acc = 0.0
    for s in shares:
        acc += s
        limits.append(math.floor(acc * n + 1e-9))
    # a customer is in the first ``k`` levels when at most limits[k] customers are valued at
    # or above it, i.e. when it beats the (limits[k] + 1)-th highest value
    ordered = sorted(values.values())
    thresholds = [ordered[n - 1 - lim] if lim < n else -math.inf for lim in reversed(limits)]
    return {
        k: PYRAMID_LEVELS[3 - bisect_left(thresholds, v)] if v > 0 else "small" for k, v in values.items()
    }


# --- value matrix ------------------------------------------------------------------------

VALUE_CELLS = {
    (True, True): "invest",  # valuable now and could be worth more: grow and protect
    (True, False): "maintain",  # valuable now, little room to grow: keep efficiently
    (False, True): "develop",  # small now, room to grow: win a larger share of wallet
    (False, False): "harvest",  # small and staying small: serve at the lowest cost
}


def value_matrix(
    values: Mapping[K, float],
    potentials: Mapping[K, float],
    *,
    value_threshold: float | None = None,
    potential_threshold: float | None = None,
) -> dict[K, str]:
    """Put each customer of ``values`` in one of four cells of current value x growth
    potential (see VALUE_CELLS). High means strictly above the threshold; thresholds default
    to the population medians. ``potentials`` is any growth measure, e.g. :func:`wallet_gap`
    or :func:`spend_trend` (then ``potential_threshold=0`` reads "growing")."""
    missing = [k for k in values if k not in potentials]
    if missing:
        raise ValueError(f"no potential for {len(missing)} customer(s), e.g. {missing[0]!r}")
    if not values:
        return {}
    vt = statistics.median(values.values()) if value_threshold is None else value_threshold
    pt = potential_threshold
    if pt is None:
        pt = statistics.median(potentials[k] for k in values)
    return {k: VALUE_CELLS[v > vt, potentials[k] > pt] for k, v in values.items()}


def wallet_gap(spend: float, wallet_estimate: float) -> float:
    """Growth potential as the share of wallet not yet won: estimated category spend of the
    customer minus what it spends with us (never below 0)."""
    return max(0.0, wallet_estimate - spend)


def spend_trend(yearly_spend: Sequence[float]) -> float:
    """Growth potential as the trend of yearly spend: the least-squares slope (money per
    year) over consecutive years, oldest first. 0 with fewer than two years."""
    n = len(yearly_spend)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(yearly_spend) / n
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(yearly_spend))
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    return sxy / sxx


# --- customer lifetime value -------------------------------------------------------------


def clv(
    margins: Sequence[float], retention: float, discount_rate: float, acquisition_cost: float = 0.0
) -> float:
    """``sum_{t=1..T} m_t r^(t-1) / (1+d)^t - AC`` for yearly margins ``m_1..m_T``: year 1's
    margin is certain, each later year needs the customer retained once more, and margins
    are booked at the end of their year."""
    _check_rates(retention, discount_rate)
    total = 0.0
    survive, discount = 1.0, 1.0
    for m in margins:
        discount /= 1.0 + discount_rate
        total += m * survive * discount
        survive *= retention
    return total - acquisition_cost


def clv_steady(
    margin: float,
    retention: float,
    discount_rate: float,
    acquisition_cost: float = 0.0,
    years: int | None = None,
) -> float:
    """:func:`clv` with the same margin every year, over ``years`` or, when None, for as
    long as the customer stays (the expected length is ``1 / (1 - r)`` years): the infinite
    sum ``m / (1 + d - r) - AC``."""
    _check_rates(retention, discount_rate)
    if years is not None:
        return clv([margin] * years, retention, discount_rate, acquisition_cost)
    if retention >= 1.0 + discount_rate:
        raise ValueError("an endless horizon needs retention below 1 + discount rate")
    return margin / (1.0 + discount_rate - retention) - acquisition_cost


def expected_lifetime(retention: float) -> float:
    """Expected relationship length in years, ``1 / (1 - r)`` (the first year counts)."""
    if not 0 <= retention < 1:
        raise ValueError("retention is a fraction from 0 up to (not including) 1")
    return 1.0 / (1.0 - retention)


def _check_rates(retention: float, discount_rate: float) -> None:
    if not 0 <= retention <= 1:
        raise ValueError("retention is a fraction from 0 to 1")
    if discount_rate <= -1:
        raise ValueError("the discount rate must be above -1")


# --- churn risk --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChurnRisk:
    level: Literal["low", "medium", "high", "unknown"]  # "unknown": never bought
    score: float | None  # 0..1; None when unknown
    ratio: float | None  # days since last order / usual interval
    days_since_last: int | None
    usual_interval: float | None  # days; the fallback when the customer has one order day


def churn_risk(
    order_dates: Sequence[date],
    today: date,
    *,
    fallback_interval: float = 90.0,
    medium: float = 1.5,
    high: float = 3.0,
) -> ChurnRisk:
    """How overdue a customer's next order is.

    ``usual interval`` = median gap in days between its distinct order days; with fewer than
    two distinct days there is no gap, so ``fallback_interval`` is used (the population's
    median interval is a good value; :func:`churn_risks` passes it). ``ratio`` = days since
    the last order / usual interval; level is "low" below ``medium``, "medium" below
    ``high``, else "high"; ``score = clamp((ratio - 1) / (high - 1), 0, 1)``: 0 while the
    next order is not yet due, 1 once it is ``high`` times overdue. Orders after ``today``
    are an error."""
    if not 1 < medium < high or fallback_interval <= 0:
        raise ValueError("need 1 < medium < high and a positive fallback interval")
    days = sorted(set(order_dates))
    return _churn(days, _usual_interval(days), today, fallback_interval, medium, high)


def churn_risks(
    orders_by_customer: Mapping[K, Sequence[date]],
    today: date,
    *,
    medium: float = 1.5,
    high: float = 3.0,
    default_interval: float = 90.0,
) -> dict[K, ChurnRisk]:
    """:func:`churn_risk` for a population; customers with a single order day fall back on
    the median usual interval of those with two or more (``default_interval`` if none has)."""
    if not 1 < medium < high or default_interval <= 0:
        raise ValueError("need 1 < medium < high and a positive default interval")
    prepared = []
    for k, d in orders_by_customer.items():
        days = sorted(set(d))
        prepared.append((k, days, _usual_interval(days)))
    known = [i for _, _, i in prepared if i is not None]
    fallback = statistics.median(known) if known else default_interval
    return {k: _churn(days, i, today, fallback, medium, high) for k, days, i in prepared}


def _churn(
    days: list[date], interval: float | None, today: date, fallback: float, medium: float, high: float
) -> ChurnRisk:
    if not days:
        return _UNKNOWN
    if days[-1] > today:
        raise ValueError(f"an order on {days[-1]} is after today ({today})")
    usual = fallback if interval is None else interval
    since = (today - days[-1]).days
    ratio = since / usual
    level: Literal["low", "medium", "high"] = "high"
    if ratio < medium:
        level = "low"
    elif ratio < high:
        level = "medium"
    score = min(1.0, max(0.0, (ratio - 1.0) / (high - 1.0)))
    return ChurnRisk(level, score, ratio, since, usual)


_UNKNOWN = ChurnRisk("unknown", None, None, None, None)


def _usual_interval(days: list[date]) -> float | None:
    """Median gap in days between sorted distinct days, or None with fewer than two."""
    n = len(days) - 1
    if n < 1:
        return None
    if n == 1:
        return float((days[1] - days[0]).days)
    gaps = sorted((b - a).days for a, b in itertools.pairwise(days))
    return float(gaps[n // 2]) if n % 2 else (gaps[n // 2 - 1] + gaps[n // 2]) / 2


# --- repeat contact ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One contact with the customer; ``ticket_open`` is the ticket's state *now*."""

    contact_id: str
    at: datetime
    ticket_id: str | None = None
    order_id: str | None = None
    ticket_open: bool = False


@dataclass(frozen=True, slots=True)
class RepeatFlag:
    reason: Literal["same_ticket", "same_order", "open_ticket"]
    previous_contact_id: str
    ticket_id: str | None
    order_id: str | None
    days_since: float


def is_repeat_contact(
    new: ContactRecord, history: Iterable[ContactRecord], *, within_days: float = 7.0
) -> RepeatFlag | None:
    """Whether ``new`` repeats a contact of the last ``within_days`` (earlier ones, and
    ``new`` itself, are ignored), and why. Reasons, first that applies wins:

    - "same_ticket": an earlier contact was about the ticket ``new`` names;
    - "same_order": an earlier contact was about the order ``new`` names;
    - "open_ticket": ``new`` names neither ticket nor order and an earlier contact's ticket
      is still open (the customer is most likely chasing it).

    Within a reason the most recent earlier contact is the one reported."""
    window = timedelta(days=within_days)
    recent = sorted(
        (c for c in history if c.contact_id != new.contact_id and new.at - window <= c.at <= new.at),
        key=lambda c: c.at,
        reverse=True,
    )
    checks: list[tuple[Literal["same_ticket", "same_order", "open_ticket"], bool]] = [
        ("same_ticket", new.ticket_id is not None),
        ("same_order", new.order_id is not None),
        ("open_ticket", new.ticket_id is None and new.order_id is None),
    ]
    for reason, applies in checks:
        if not applies:
            continue
        for c in recent:
            if _matches(reason, new, c):
                days = (new.at - c.at).total_seconds() / 86400.0
                return RepeatFlag(reason, c.contact_id, c.ticket_id, c.order_id, days)
    return None


def _matches(reason: str, new: ContactRecord, old: ContactRecord) -> bool:
    if reason == "same_ticket":
        return old.ticket_id == new.ticket_id
    if reason == "same_order":
        return old.order_id == new.order_id
    return old.ticket_id is not None and old.ticket_open
