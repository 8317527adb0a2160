"""The agent-leg registry: register, replace, claim (waiting for a late leg), release."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.runtime.voice.agent_legs import AgentLegs
from callcenter.telephony.media import CallInfo, ChannelCore
from callcenter.telephony.pacer import MediaClock

pytestmark = pytest.mark.timeout(10)


class Leg(ChannelCore):
    def __init__(self, name: str, clock: MediaClock) -> None:
        super().__init__(CallInfo(call_id=name, caller=name, called="", front_end="test"), clock)

    def _send_frame(self, pcm: bytes) -> None:
        pass

    async def _send_hangup(self) -> None:
        pass


async def test_claim_waits_for_a_leg_marks_it_in_use_and_release_tells_listeners() -> None:
    clock = MediaClock()
    legs = AgentLegs()
    changes: list[tuple[str, bool]] = []
    legs.on_change(lambda agent, busy: changes.append((agent, busy)))
    leg = Leg("alice-phone", clock)
    claiming = asyncio.ensure_future(legs.claim("alice", timeout=2.0))
    await asyncio.sleep(0)
    legs.register("alice", leg)
    assert await claiming is leg
    assert legs.in_use("alice")
    assert await legs.claim("alice", timeout=0.05) is None  # one call at a time
    next_call = asyncio.ensure_future(legs.claim("alice", timeout=2.0))
    await asyncio.sleep(0)
    legs.release("alice")  # the first call's bridge is over: the next one gets the leg
    assert await next_call is leg
    legs.release("alice")
    assert changes == [("alice", True), ("alice", False), ("alice", True), ("alice", False)]
    await leg.hangup()
    assert legs.get("alice") is None and len(legs) == 0  # an ended leg counts as absent


async def test_a_newer_leg_replaces_the_older_and_a_late_unregister_is_harmless() -> None:
    clock = MediaClock()
    legs = AgentLegs()
    old, new = Leg("old", clock), Leg("new", clock)
    legs.register("bob", old)
    legs.register("bob", new)
    legs.unregister("bob", old)
    assert legs.get("bob") is new
    assert await legs.claim("carol", timeout=0.05) is None
    legs.unregister("bob")
    assert legs.get("bob") is None
    for leg in (old, new):
        await leg.hangup()
    assert not clock.active


async def test_a_desk_leg_is_known_as_such_and_a_wait_for_it_ends_when_the_desk_is_gone() -> None:
    clock = MediaClock()
    legs = AgentLegs()
    desk, phone = Leg("desk", clock), Leg("phone", clock)
    legs.register("alice", desk, desk=True)
    assert legs.is_desk("alice")
    await desk.hangup()  # the page reloads: its leg ends
    assert not legs.is_desk("alice") and legs.get("alice") is None
    waiting = asyncio.ensure_future(legs.claim("alice", timeout=5.0, until_desk_gone=True))
    await asyncio.sleep(0)
    legs.desk_gone("alice")  # the desk's grace ran out: the wait gives up at once
    assert await asyncio.wait_for(waiting, 1.0) is None
    assert legs.desk_is_gone("alice")
    assert await legs.claim("alice", timeout=0.05, until_desk_gone=True) is None
    legs.register("alice", phone)  # a leg again: the departure is forgotten
    assert not legs.desk_is_gone("alice") and not legs.is_desk("alice")
    assert await legs.claim("alice", timeout=1.0, until_desk_gone=True) is phone
    legs.release("alice")
    await phone.hangup()
    assert not clock.active


async def test_a_wait_ends_only_on_a_desk_departure_said_after_it_started() -> None:
    clock = MediaClock()
    legs = AgentLegs()
    legs.desk_gone("alice")  # an old departure: her desk came back since, its audio not yet
    since = legs.gone_count("alice")
    waiting = asyncio.ensure_future(legs.claim("alice", timeout=5.0, gone_after=since))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # the old departure does not end it
    legs.desk_gone("alice")  # this one is news: the wait gives up at once
    assert await asyncio.wait_for(waiting, 1.0) is None
    assert legs.gone_count("alice") == since + 1
    desk = Leg("desk", clock)
    legs.register("alice", desk, desk=True)  # a later call's wait takes the new count
    assert await legs.claim("alice", timeout=1.0, gone_after=legs.gone_count("alice")) is desk
    legs.release("alice")
    await desk.hangup()
    assert not clock.active
