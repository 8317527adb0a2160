"""The benchmark's one-day, 50-agent call-center model written with SimPy, as a baseline
for the simulator's virtual mode (which runs the real ACD engine instead).

Same model as ``bench/sim_bench.py`` builds for the virtual mode: Poisson arrivals with a
daytime profile, one FIFO queue served by ``agents`` identical agents, log-normal handling
times, exponential patience (callers abandon when it runs out before an agent takes them),
a fixed wrap-up. Returns the same headline figures so the two can be compared.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import simpy


@dataclass
class BaselineResult:
    offered: int
    answered: int
    abandoned: int
    within_sl: int
    total_wait: float


def day_profile() -> list[float]:
    """Relative arrival rate per hour of day: quiet nights, morning and afternoon peaks."""
    return [0.05, 0.03, 0.02, 0.02, 0.02, 0.05, 0.2, 0.6, 1.0, 1.3, 1.4, 1.3,
            1.1, 1.3, 1.3, 1.2, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]


def run_baseline(*, agents: int, calls_per_hour_peak: float, aht: float, aht_sd: float,
                 patience: float, wrap_up: float, sl_s: float, seed: int,
                 hours: float = 24.0) -> BaselineResult:
    rng = random.Random(seed)
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=agents)
    profile = day_profile()
    sigma2 = math.log(1 + (aht_sd / aht) ** 2)
    mu, sigma = math.log(aht) - sigma2 / 2, sigma2 ** 0.5
    result = BaselineResult(0, 0, 0, 0, 0.0)

    def caller(env: simpy.Environment):  # type: ignore[no-untyped-def]
        arrived = env.now
        result.offered += 1
        with pool.request() as req:
            outcome = yield req | env.timeout(rng.expovariate(1 / patience))
            if req not in outcome:
                result.abandoned += 1
                return
            wait = env.now - arrived
            result.answered += 1
            result.total_wait += wait
            result.within_sl += wait <= sl_s
            yield env.timeout(rng.lognormvariate(mu, sigma) + wrap_up)

    def source(env: simpy.Environment):  # type: ignore[no-untyped-def]
        end = hours * 3600
        while env.now < end:
            hour = int(env.now // 3600) % 24
            rate = calls_per_hour_peak * profile[hour] / 3600
            gap = rng.expovariate(rate)
            next_hour = (env.now // 3600 + 1) * 3600
            if env.now + gap >= next_hour:  # memoryless: restart at the hour with its rate
                yield env.timeout(next_hour - env.now)
                continue
            yield env.timeout(gap)
            env.process(caller(env))

    env.process(source(env))
    env.run()
    return result
