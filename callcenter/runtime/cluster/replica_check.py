"""Replicas check that they agree with the lease holder, and resynchronise if not.

Every replica must go through the same states (the engine is deterministic). To catch a
replica that does not (a bug, a non-deterministic change to the engine), the holder
appends a ``mark`` entry from time to time; at a mark every replica folds what it holds
(contacts, offers, agents, the ids minted) into a digest. The holder then appends its own
digest for that mark; a replica whose digest differs logs an error and replaces its
state by the holder's latest snapshot.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)


def digest(engine: Any) -> str:
    contacts = sorted((cid, c.state, c.queue, c.agent_id) for cid, c in engine.contacts.items())
    offers = sorted((oid, o.contact_id, o.agent_id) for oid, o in engine.offers.items())
    agents = sorted((aid, a.state.value) for aid, a in engine.agents.items())
    minted = getattr(engine._ids, "n", None)
    return hashlib.sha256(repr((contacts, offers, agents, minted)).encode()).hexdigest()[:16]


class Checks:
    def __init__(self, keep: int = 16) -> None:
        self._marks: OrderedDict[int, str] = OrderedDict()
        self._keep = keep
        self.diverged = False
        self.checked = 0
        self.mismatches = 0

    def at_mark(self, mark: int, engine: Any) -> str:
        value = self._marks[mark] = digest(engine)
        while len(self._marks) > self._keep:
            self._marks.popitem(last=False)
        return value

    def holder_says(self, mark: int, theirs: str) -> None:
        mine = self._marks.get(mark)
        if mine is None:
            return  # joined after that mark
        self.checked += 1
        if mine != theirs:
            self.mismatches += 1
            self.diverged = True
            log.error(
                "this replica differs from the lease holder's at mark %d: resynchronising from its snapshot",
                mark,
            )
