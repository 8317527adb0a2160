"""Queueing formulas for staffing: Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M).

Notation (docs/erlang.md): arrival rate ``lam`` (contacts per second), mean handling time
``aht`` (seconds), offered load ``a = lam * aht`` (Erlangs), ``c`` agents, mean patience
``patience`` (seconds, exponential), service-level threshold ``t`` (seconds).

Everything is computed with recurrences or in log space, never with factorials or powers
of the load, so it stays finite and accurate for tens of thousands of agents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c: B(0)=1, B(k) = a B(k-1) / (k + a B(k-1))."""
    if c < 0 or a < 0:
        raise ValueError("agents and load must not be negative")
    if a == 0:
        return 0.0 if c > 0 else 1.0
    inv = 1.0  # 1/B(k), the stable form: 1/B(k) = 1 + (k/a) / B(k-1)
    for k in range(1, c + 1):
        inv = 1.0 + inv * k / a
    return 1.0 / inv


def erlang_c(c: int, a: float) -> float:
    """Probability that an arriving contact waits in M/M/c (1 when c <= a: unstable)."""
    if c <= a:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


@dataclass(frozen=True, slots=True)
class ErlangC:
    """M/M/c figures for ``c`` agents, arrival rate ``lam`` per second, handling time ``aht``."""

    lam: float
    aht: float
    c: int

    @property
    def load(self) -> float:
        return self.lam * self.aht

    @property
    def p_wait(self) -> float:
        return erlang_c(self.c, self.load)

    def service_level(self, t: float) -> float:
        """Share answered within ``t`` seconds: 1 - P(wait) exp(-(c - a) t / aht)."""
        if self.c <= self.load:
            return 0.0
        return 1.0 - self.p_wait * math.exp(-(self.c - self.load) * t / self.aht)

    @property
    def asa(self) -> float:
        """Mean wait of all contacts: P(wait) aht / (c - a)."""
        if self.c <= self.load:
            return math.inf
        return self.p_wait * self.aht / (self.c - self.load)

    @property
    def occupancy(self) -> float:
        return min(1.0, self.load / self.c) if self.c else 1.0


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    p_wait: float
    p_abandon: float
    asa: float  # mean wait of all arrivals, seconds
    occupancy: float
    lam: float
    aht: float
    patience: float
    c: int
    _tail: tuple[float, ...]  # P(an arrival finds c + j contacts in the system), j = 0, 1, ...

    @property
    def asa_answered(self) -> float:
        """Mean wait of the contacts that were answered (the usual ASA), seconds.

        Behind ``j`` waiting contacts, the stages a contact passes have rates
        ``c mu + k theta`` (k = j + 1 down to 1), whatever ends each stage, so the expected
        wait of one that is served is the sum of ``1 / rate``; it is served with probability
        ``c mu / (c mu + (j + 1) theta)`` (the product of the stage odds telescopes)."""
        service, theta = self.c / self.aht, 1.0 / self.patience
        total = 0.0
        stage_sum = 0.0
        for j, w in enumerate(self._tail):
            stage_sum += 1.0 / (service + (j + 1) * theta)
            total += w * service / (service + (j + 1) * theta) * stage_sum
        answered = 1.0 - self.p_abandon
        return total / answered if answered > 0 else math.inf

    def service_level(self, t: float) -> float:
        """Share of all arrivals answered within ``t`` seconds (abandoned ones count as not).

        A contact that finds all agents busy and ``j`` others waiting is answered once the
        ``j + 1`` contacts ahead of it (and itself) have moved up, each step at rate
        ``c mu`` (a service ends) plus ``theta`` per waiting contact (one abandons); it is
        answered within ``t`` if that happens before ``t`` and before its own patience runs
        out. The sum over ``j`` weights each case by the probability an arrival sees it."""
        mu, theta, c = 1.0 / self.aht, 1.0 / self.patience, self.c
        weights = self._tail  # P(arrival finds c + j in system), j = 0, 1, ...
        answered_in_t = 0.0
        for j, w in enumerate(weights):
            if w < 1e-15:
                break
            answered_in_t += w * _answered_within(j, t, c * mu, theta)
        return (1.0 - self.p_wait) + answered_in_t


def erlang_a(
    lam: float, aht: float, patience: float, c: int, *, max_queue: int | None = None
) -> ErlangAResult:
    """M/M/c+M (Palm's model): exponential service and exponential patience.

    Birth-death chain: in state ``n`` (contacts in system) arrivals come at ``lam``,
    departures at ``min(n, c) mu + max(0, n - c) theta``. Stationary probabilities are
    computed as log-weights relative to state ``c`` and normalised, so the chain's length
    is cut only where the tail is negligible (below 1e-16 of the mass)."""
    if lam < 0 or aht <= 0 or patience <= 0 or c < 0:
        raise ValueError("rates and times must be positive and agents not negative")
    mu, theta = 1.0 / aht, 1.0 / patience
    a = lam * aht
    # log p_n - log p_c for n < c: p_{n} = p_{n+1} (n+1) mu / lam
    below = 0.0  # sum_{n<c} p_n / p_c
    term = 1.0
    for n in range(c, 0, -1):
        term *= n / a if a > 0 else 0.0
        below += term
        if term < 1e-300:
            break
    tail: list[float] = []  # p_{c+j} / p_c for j >= 0
    term = 1.0
    j = 0
    limit = max_queue if max_queue is not None else 10_000_000
    while j <= limit:
        tail.append(term)
        j += 1
        term *= lam / (c * mu + j * theta)
        if term < 1e-16 * (1.0 + below + sum(tail[-1:])) and j > 10:
            break
    total = below + sum(tail)
    p_c = 1.0 / total
    p_wait = sum(tail) * p_c  # PASTA: an arrival sees the stationary distribution
    mean_queue = sum(jj * t for jj, t in enumerate(tail)) * p_c
    p_abandon = theta * mean_queue / lam if lam > 0 else 0.0
    asa = mean_queue / lam if lam > 0 else 0.0  # Little's law over all arrivals
    busy = (sum(min(n, c) * w for n, w in _below_weights(c, a)) + c * sum(tail)) * p_c
    occupancy = busy / c if c else 1.0
    return ErlangAResult(
        p_wait=p_wait,
        p_abandon=p_abandon,
        asa=asa,
        occupancy=occupancy,
        lam=lam,
        aht=aht,
        patience=patience,
        c=c,
        _tail=tuple(t * p_c for t in tail),
    )


def _below_weights(c: int, a: float) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    term = 1.0
    for n in range(c, 0, -1):
        term *= n / a if a > 0 else 0.0
        out.append((n - 1, term))
        if term < 1e-300:
            break
    return out


def _answered_within(j: int, t: float, service: float, theta: float) -> float:
    """P(a contact arriving behind ``j`` waiting ones is answered within ``t``).

    Ahead of it, the queue drains through ``j + 1`` exponential stages; in stage ``i`` (with
    ``j - i`` others still ahead of it plus itself waiting) the total rate is
    ``service + (j - i + 1) theta`` and the stage ends in its favour with probability
    ``(service + (j - i) theta) / (service + (j - i + 1) theta)`` (not its own abandonment).
    The answer is the probability that all stages end in its favour before ``t``: a
    hypoexponential CDF with distinct rates, times the product of favourable chances."""
    rates = [service + (j - i + 1) * theta for i in range(j + 1)]
    favour = 1.0
    for i in range(j + 1):
        favour *= (service + (j - i) * theta) / rates[i]
    return favour * _hypoexp_cdf(rates, t)


def _hypoexp_cdf(rates: list[float], t: float) -> float:
    """P(sum of independent exponentials with these distinct rates <= t)."""
    if len(rates) == 1:
        return 1.0 - math.exp(-rates[0] * t)
    if len(rates) > 40:  # long chains: the normal approximation of the sum is ample
        mean = sum(1.0 / r for r in rates)
        sd = math.sqrt(sum(1.0 / (r * r) for r in rates))
        return 0.5 * (1.0 + math.erf((t - mean) / (sd * math.sqrt(2.0))))
    survival = 0.0
    for i, ri in enumerate(rates):
        coef = 1.0
        for k, rk in enumerate(rates):
            if k != i:
                coef *= rk / (rk - ri)
        survival += coef * math.exp(-ri * t)
    return min(1.0, max(0.0, 1.0 - survival))


@dataclass(frozen=True, slots=True)
class Staffing:
    agents: int  # on the phones at once
    scheduled: int  # agents to schedule, allowing for shrinkage
    service_level: float
    asa: float
    occupancy: float
    p_abandon: float | None


def agents_for_service_level(
    lam: float,
    aht: float,
    target_sl: float,
    t: float,
    *,
    model: str = "C",
    patience: float | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest agents that answer ``target_sl`` of contacts within ``t`` seconds (and keep
    occupancy at or under ``max_occupancy``); ``scheduled = ceil(agents / (1 - shrinkage))``."""
    if not 0 < target_sl < 1:
        raise ValueError("the service-level target is a fraction between 0 and 1")
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage is a fraction from 0 up to (not including) 1")
    if model not in ("C", "A"):
        raise ValueError("model is 'C' (Erlang C) or 'A' (Erlang A)")
    if model == "A" and not patience:
        raise ValueError("Erlang A needs the mean patience")
    a = lam * aht
    c = max(1, math.floor(a) + (1 if model == "C" else 0))
    if max_occupancy is not None:
        c = max(c, math.ceil(a / max_occupancy - 1e-9))
    # service level grows with c: step up from the stability bound (a doubling search then a
    # walk would be faster for huge loads, but the walk from floor(a) is short: O(sqrt(a)))
    while True:
        if model == "C":
            q = ErlangC(lam, aht, c)
            sl, asa, occ, pab = q.service_level(t), q.asa, q.occupancy, None
        else:
            r = erlang_a(lam, aht, patience, c)  # type: ignore[arg-type]
            sl, asa, occ, pab = r.service_level(t), r.asa, r.occupancy, r.p_abandon
        if sl >= target_sl and (max_occupancy is None or occ <= max_occupancy + 1e-12):
            scheduled = math.ceil(c / (1.0 - shrinkage) - 1e-9)
            return Staffing(
                agents=c, scheduled=scheduled, service_level=sl, asa=asa, occupancy=occ, p_abandon=pab
            )
        c += 1
