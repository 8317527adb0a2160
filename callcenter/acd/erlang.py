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
    """M/M/c+M figures; build it with :func:`erlang_a`. Times are seconds."""

    p_wait: float  # an arrival finds every agent busy
    p_abandon: float  # an arrival hangs up before an agent answers
    asa: float  # mean wait of all arrivals (answered and abandoned alike)
    occupancy: float  # mean share of agents busy
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

        Exact (docs/erlang.md): behind ``j`` waiting contacts the answer probability within
        ``t`` is ``alpha / (alpha + j + 1) * I_y(j + 1, alpha + 1)`` with
        ``alpha = c mu / theta``, ``y = 1 - exp(-theta t)`` and ``I`` the regularised
        incomplete beta function. ``1 - I_y(j + 1, b)`` grows with ``j`` by positive terms
        (computed in log space), so summing over ``j`` never subtracts close numbers."""
        if t <= 0:
            return 1.0 - self.p_wait
        theta = 1.0 / self.patience
        alpha = self.c / self.aht / theta
        b = alpha + 1.0
        log_y = math.log(-math.expm1(-theta * t))
        log_1my = -theta * t
        comp = math.exp(b * log_1my)  # 1 - I_y(1, b) = (1 - y)^b
        log_term = math.log(b) + log_y + b * log_1my  # I_y(1, b) - I_y(2, b)
        answered = 0.0
        for j, w in enumerate(self._tail):
            answered += w * alpha / (alpha + j + 1) * (1.0 - comp)
            comp = min(1.0, comp + math.exp(log_term))
            log_term += math.log((j + 1 + b) / (j + 2)) + log_y
        return min(1.0, (1.0 - self.p_wait) + answered)


def erlang_a(lam: float, aht: float, patience: float, c: int) -> ErlangAResult:
    """M/M/c+M (Palm's model): exponential service (mean ``aht``) and exponential patience
    (mean ``patience``), ``c >= 1`` agents, arrivals at ``lam`` per second.

    Birth-death chain: in state ``n`` arrivals come at ``lam``, departures at
    ``min(n, c) mu + max(0, n - c) theta``. States up to ``c`` are summed through Erlang B
    (``sum_{n<=c} p_n = p_c / B(c, a)``); the waiting states ``c + j`` are kept as log-weights
    relative to their largest one and cut where they fall below ``e^-45`` of it, so neither an
    overloaded nor a heavily overstaffed center overflows."""
    if lam < 0 or aht <= 0 or patience <= 0 or c < 1:
        raise ValueError("times must be positive, the arrival rate not negative, agents >= 1")
    if lam == 0:
        return ErlangAResult(0.0, 0.0, 0.0, 0.0, lam, aht, patience, c, ())
    service, theta = c / aht, 1.0 / patience
    a = lam * aht
    log_tail = _log_tail_weights(lam, service, theta)
    top = max(log_tail)
    tail = [math.exp(x - top) for x in log_tail]  # p_{c+j} / p_c, scaled by e^-top
    rest = math.exp(-top)  # p_c / p_c, scaled alike
    b = erlang_b(c, a)
    # p_c = B / (1 - B + B S) with S = sum_j p_{c+j} / p_c; scaled by e^-top throughout
    denom = (1.0 - b) * rest + b * sum(tail)
    probs = tuple(b * x / denom for x in tail)
    p_wait = sum(probs)  # PASTA: an arrival sees the stationary distribution
    mean_queue = sum(j * p for j, p in enumerate(probs))
    busy = (a * (1.0 - b) * rest + b * c * (sum(tail) - rest)) / denom
    return ErlangAResult(
        p_wait=min(1.0, p_wait),
        p_abandon=theta * mean_queue / lam,  # abandonment flow over arrival flow
        asa=mean_queue / lam,  # Little's law over all arrivals
        occupancy=min(1.0, busy / c),
        lam=lam,
        aht=aht,
        patience=patience,
        c=c,
        _tail=probs,
    )


def _log_tail_weights(lam: float, service: float, theta: float) -> list[float]:
    """``log(p_{c+j} / p_c)`` for j = 0, 1, ... until past the peak and negligible."""
    out = [0.0]
    log_lam = math.log(lam)
    top = 0.0
    j = 0
    while True:
        j += 1
        x = out[-1] + log_lam - math.log(service + j * theta)
        out.append(x)
        top = max(top, x)
        if x < top - 45.0 and lam < service + j * theta:
            return out


@dataclass(frozen=True, slots=True)
class Staffing:
    agents: int  # on the phones at once
    scheduled: int  # agents to schedule, allowing for shrinkage
    service_level: float
    asa: float  # mean wait of all contacts, seconds
    occupancy: float
    p_abandon: float | None  # Erlang A only


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
    """The fewest agents that answer ``target_sl`` of contacts within ``t`` seconds and keep
    occupancy at or under ``max_occupancy``; ``scheduled = ceil(agents / (1 - shrinkage))``.

    Both conditions are monotone in the number of agents, so the search gallops up from a
    lower bound and then bisects: about ``2 log2(agents)`` evaluations of ``O(agents)``."""
    if not 0 < target_sl < 1:
        raise ValueError("the service-level target is a fraction between 0 and 1")
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage is a fraction from 0 up to (not including) 1")
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise ValueError("the occupancy cap is a fraction above 0, at most 1")
    if model not in ("C", "A"):
        raise ValueError("model is 'C' (Erlang C) or 'A' (Erlang A)")
    if model == "A" and not patience:
        raise ValueError("Erlang A needs the mean patience")
    if lam <= 0 or aht <= 0:
        raise ValueError("the arrival rate and handling time must be positive")

    def evaluate(c: int) -> Staffing | None:
        if model == "C":
            q = ErlangC(lam, aht, c)
            sl, asa, occ, pab = q.service_level(t), q.asa, q.occupancy, None
        else:
            r = erlang_a(lam, aht, patience or 0.0, c)
            sl, asa, occ, pab = r.service_level(t), r.asa, r.occupancy, r.p_abandon
        if sl < target_sl or (max_occupancy is not None and occ > max_occupancy + 1e-12):
            return None
        scheduled = math.ceil(c / (1.0 - shrinkage) - 1e-9)
        return Staffing(c, scheduled, sl, asa, occ, pab)

    a = lam * aht
    low = math.floor(a) + 1 if model == "C" else 1  # C needs c > a to be stable at all
    if max_occupancy is not None:
        low = max(low, math.ceil(a / max_occupancy - 1e-9))
    found = evaluate(low)
    if found:
        return found
    step = max(1, math.isqrt(math.ceil(a)))
    high = low + step
    while not (found := evaluate(high)):  # gallop: `low` fails, `high` will pass
        low, step = high, step * 2
        high = low + step
    while high - low > 1:  # bisect: low fails, high passes
        mid = (low + high) // 2
        if (r := evaluate(mid)) is not None:
            high, found = mid, r
        else:
            low = mid
    return found
