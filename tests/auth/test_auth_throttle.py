"""Repeated failed logins are slowed down per username and per address, with a clear 429
and Retry-After, the same for real and unknown users; the clock is virtual, no sleeps."""

from __future__ import annotations

import asyncio

from authsupport import Client

from callcenter.auth.throttle import LoginThrottle


def test_delays_double_after_the_free_failures_and_cap() -> None:
    t = LoginThrottle(free_per_user=3, free_per_address=100, cap_s=10.0)
    now = 0.0
    for _ in range(3):
        assert t.attempt("bob", "a", now) == 0.0
    waits = []
    for _ in range(6):
        wait = t.attempt("bob", "a", now)
        waits.append(wait)
        now += wait
        assert t.attempt("bob", "a", now) == 0.0  # allowed once the wait is over (and counted)
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_success_clears_the_user_and_takes_back_one_address_attempt() -> None:
    t = LoginThrottle(free_per_user=2, free_per_address=3)
    for _ in range(2):
        t.attempt("Bob", "a", 0.0)
    t.attempt("bob", "a", 5.0)
    t.succeeded("bob", "a")
    assert t.failures("BOB", "a") == (0, 2)  # usernames compare without case


def test_a_refused_attempt_is_not_counted() -> None:
    t = LoginThrottle(free_per_user=1, free_per_address=10)
    t.attempt("bob", "a", 0.0)
    assert t.attempt("bob", "a", 0.5) == 0.5
    assert t.failures("bob", "a") == (1, 1)


async def test_n_failures_give_429_with_retry_after_then_success_after_waiting(client: Client) -> None:
    for _ in range(5):
        assert (await client.login("bob", "guess")).status == 401
    slowed = await client.login("bob", "bob")  # even the right password must wait now
    assert slowed.status == 429 and slowed.headers["Retry-After"] == "1"
    assert (await slowed.json())["error"] == {
        "status": 429,
        "message": "too many failed logins; try again in 1 s",
    }
    client.clock.advance(1.0)
    assert (await client.login("bob", "guess")).status == 401
    again = await client.login("bob", "bob")
    assert again.status == 429 and again.headers["Retry-After"] == "2"  # twice as long now
    client.clock.advance(2.0)
    assert (await client.login("bob", "bob")).status == 200
    assert (await client.login("bob", "nope")).status == 401  # the slate was wiped by the success


async def test_unknown_users_are_throttled_the_same_way(client: Client) -> None:
    for _ in range(5):
        await client.login("nobody", "guess")
    for _ in range(5):
        await client.login("carol", "guess")
    a, b = await client.login("nobody", "x"), await client.login("carol", "x")
    assert a.status == b.status == 429 and await a.json() == await b.json()
    assert (await client.login("dan")).status == 200  # another user from the same address is fine


async def test_many_usernames_from_one_address_are_throttled(client: Client) -> None:
    for i in range(20):
        assert (await client.login(f"user{i}", "guess")).status == 401
    res = await client.login("alice")
    assert res.status == 429 and res.headers["Retry-After"] == "1"


async def test_a_parallel_burst_gets_no_more_guesses_than_the_free_ones(client: Client) -> None:
    statuses = [r.status for r in await asyncio.gather(*(client.login("bob", f"g{i}") for i in range(12)))]
    assert sorted(statuses) == [401] * 5 + [429] * 7
