"""``GET /metrics``: the live fold in the Prometheus text format.

Each app gets its own ``CollectorRegistry`` holding one collector that reads the fold at
scrape time, so two apps in one process (tests, several nodes) never share series.

Series (``callcenter_`` prefix):
- ``queue_waiting{queue}``, ``queue_longest_wait_seconds{queue}``: contacts waiting now;
- ``agents{state}``: agents by state; ``agent_state{agent,state}``: 1 for the agent's state;
- ``contacts_offered_total``, ``contacts_answered_total``, ``contacts_abandoned_total``
  ``{queue}``: counters since the server started (the fold is primed from the log);
- ``answer_wait_seconds{queue}``: histogram of the waits of answered contacts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from callcenter.metrics.fold import AGENT_STATES, WAIT_BUCKETS_S, MetricsFold

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class FoldCollector(Collector):
    """Reads ``fold`` at ``now()`` on every scrape."""

    def __init__(self, fold: MetricsFold, now: Callable[[], float], queues: list[str]) -> None:
        self.fold, self.now, self.queues = fold, now, queues

    def collect(self) -> Iterator[Metric]:
        live = self.fold.live(self.now())
        names = sorted(set(self.queues) | set(live.queues) | set(self.fold.totals))
        waiting = GaugeMetricFamily(
            "callcenter_queue_waiting", "Contacts waiting in the queue now", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "callcenter_queue_longest_wait_seconds",
            "Wait so far of the longest-waiting contact",
            labels=["queue"],
        )
        for q in names:
            now_q = live.queues.get(q)
            waiting.add_metric([q], now_q.waiting if now_q else 0)
            longest.add_metric([q], now_q.longest_wait_s if now_q else 0.0)
        yield waiting
        yield longest
        agents = GaugeMetricFamily("callcenter_agents", "Agents by state", labels=["state"])
        for state in AGENT_STATES:
            agents.add_metric([state.lower()], live.agents_by_state.get(state, 0))
        yield agents
        per_agent = GaugeMetricFamily(
            "callcenter_agent_state", "1 for the state each agent is in", labels=["agent", "state"]
        )
        for agent, state in sorted(live.agents.items()):
            per_agent.add_metric([agent, state.lower()], 1)
        yield per_agent
        yield from self._counters(names)

    def _counters(self, names: list[str]) -> Iterator[Metric]:
        totals = self.fold.totals
        for what, doc in (
            ("offered", "Contacts that joined the queue"),
            ("answered", "Contacts an agent answered"),
            ("abandoned", "Contacts that hung up while waiting"),
        ):
            family = CounterMetricFamily(f"callcenter_contacts_{what}", doc, labels=["queue"])
            for q in names:
                family.add_metric([q], getattr(totals[q], what) if q in totals else 0)
            yield family
        hist = HistogramMetricFamily(
            "callcenter_answer_wait_seconds", "Waits of answered contacts", labels=["queue"]
        )
        for q in names:
            t = totals.get(q)
            counts = t.wait_counts if t else [0] * (len(WAIT_BUCKETS_S) + 1)
            running, buckets = 0, []
            for edge, n in zip([*WAIT_BUCKETS_S, float("inf")], counts, strict=True):
                running += n
                buckets.append((floatToGoString(edge), running))  # type: ignore[no-untyped-call]
            hist.add_metric([q], buckets, t.wait_sum if t else 0.0)
        yield hist


def registry_for(fold: MetricsFold, now: Callable[[], float], queues: list[str]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FoldCollector(fold, now, queues))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
