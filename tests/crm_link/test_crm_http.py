"""The outside-CRM adapter against a small fake CRM served by aiohttp over loopback: URL
templates, field mapping, auth header, timeout, circuit breaker, webhook retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from callcenter.config.crm import ExternalCrmConfig
from callcenter.crm_link.budget import lookup_with_budget
from callcenter.crm_link.http_crm import BreakerState, CircuitBreaker, HttpCrmDirectory, WebhookSender
from callcenter.ports.crm_directory import CrmUnavailable


class FakeCrm:
    """Customers by phone/account; records every request; can be told to fail or stall."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.fail_with: int | None = None
        self.stall = asyncio.Event()
        self.stall.set()
        self.webhook_failures = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/customers", self.customers)
        app.router.add_post("/hooks/ended", self.hook)
        return app

    async def customers(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path_qs, dict(request.headers), None))
        await self.stall.wait()
        if self.fail_with is not None:
            return web.Response(status=self.fail_with)
        if request.query.get("phone") == "+972501234567" or request.query.get("acct") == "A 1/2":
            return web.json_response(
                [
                    {
                        "ref": "X-17",
                        "surname": "Lovelace",
                        "given": "Ada",
                        "language": "en",
                        "phones": ["+972501234567"],
                    }
                ]
            )
        if request.query.get("phone") == "+972500000000":
            return web.json_response({"surname": "No id"})
        if request.query.get("phone") == "+972511111111":
            return web.json_response([])
        return web.Response(status=404)

    async def hook(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.path_qs, dict(request.headers), await request.json()))
        if self.webhook_failures:
            self.webhook_failures -= 1
            return web.Response(status=503)
        return web.Response(status=204)


@pytest.fixture
async def fake_crm() -> AsyncIterator[tuple[FakeCrm, str]]:
    crm = FakeCrm()
    server = TestServer(crm.app())
    await server.start_server()
    yield crm, str(server.make_url("")).rstrip("/")
    crm.stall.set()
    await server.close()


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state read afresh (mypy keeps the narrowing of an earlier assert)."""
    return breaker.state


def config(base: str, **kwargs: Any) -> ExternalCrmConfig:
    return ExternalCrmConfig(
        lookup_urls={
            "caller_number": base + "/api/customers?phone={value}",
            "account_number": base + "/api/customers?acct={value}",
        },
        fields={"ref": "customer_id", "surname": "name", "given": "first_name"},
        auth_header="Authorization: Bearer s3cret",
        **kwargs,
    )


async def test_lookup_maps_their_fields_sends_auth_and_encodes_the_value(
    fake_crm: tuple[FakeCrm, str],
) -> None:
    crm, base = fake_crm
    async with aiohttp.ClientSession() as session:
        directory = HttpCrmDirectory(session, config(base), country_code="+972")
        card = await directory.lookup("caller_number", "050-123 4567")
        assert card is not None and card.customer_id == "X-17" and card.name == "Lovelace"
        assert (card.first_name, card.phones, card.source) == ("Ada", ("+972501234567",), "external")
        assert (await directory.lookup("account_number", "A 1/2")) is not None
        assert await directory.lookup("caller_number", "0509999999") is None  # 404
        assert await directory.lookup("caller_number", "0511111111") is None  # empty list
        assert await directory.lookup("email", "ada@example.com") is None  # no template: not asked
        with pytest.raises(CrmUnavailable, match="no customer id"):
            await directory.lookup("caller_number", "0500000000")
    paths = [r[1] for r in crm.requests]
    assert paths[0] == "/api/customers?phone=%2B972501234567"  # '+' encoded, else it reads as a space
    assert all(r[2]["Authorization"] == "Bearer s3cret" for r in crm.requests)
    assert len(crm.requests) == 5


async def test_breaker_opens_after_failures_fails_fast_and_half_opens_after_cooldown(
    fake_crm: tuple[FakeCrm, str],
) -> None:
    crm, base = fake_crm
    clock = [100.0]
    crm.fail_with = 503
    async with aiohttp.ClientSession() as session:
        directory = HttpCrmDirectory(
            session,
            config(base, breaker_failures=3, breaker_cooldown_s=30),
            country_code="+972",
            now=lambda: clock[0],
        )
        for _ in range(3):
            with pytest.raises(CrmUnavailable, match="503"):
                await directory.lookup("caller_number", "0501234567")
        assert directory.breaker.state == "open"
        with pytest.raises(CrmUnavailable, match="circuit is open"):
            await directory.lookup("caller_number", "0501234567")
        assert len(crm.requests) == 3  # failing fast: no request went out
        clock[0] += 30
        assert state_of(directory.breaker) == "half_open"
        with pytest.raises(CrmUnavailable, match="503"):  # the trial fails: open again
            await directory.lookup("caller_number", "0501234567")
        assert directory.breaker.state == "open" and len(crm.requests) == 4
        clock[0] += 30
        crm.fail_with = None
        assert await directory.lookup("caller_number", "0501234567") is not None
        assert state_of(directory.breaker) == "closed" and directory.breaker.failures == 0


def test_half_open_lets_one_trial_through_at_a_time() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(1, 10, lambda: clock[0])
    breaker.failed()
    assert not breaker.allow()
    clock[0] = 10
    assert breaker.allow() and not breaker.allow()
    breaker.succeeded()
    assert breaker.allow() and breaker.allow()


async def test_a_stalled_crm_times_out_and_the_offer_does_not_wait(fake_crm: tuple[FakeCrm, str]) -> None:
    crm, base = fake_crm
    crm.stall.clear()
    async with aiohttp.ClientSession() as session:
        directory = HttpCrmDirectory(session, config(base, timeout_ms=300), country_code="+972")
        result = await lookup_with_budget(directory, "caller_number", "0501234567", budget_s=0.05)
        assert not result.card.identified and result.pending is not None
        assert await asyncio.wait_for(result.pending, 5) is None  # timed out inside the adapter
        assert directory.breaker.failures == 1
        crm.stall.set()
        result = await lookup_with_budget(directory, "caller_number", "0501234567", budget_s=2)
        assert result.card.customer_id == "X-17"


async def test_webhook_retries_until_delivered_and_gives_up_on_a_refusal(
    fake_crm: tuple[FakeCrm, str],
) -> None:
    crm, base = fake_crm
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    async with aiohttp.ClientSession() as session:
        cfg = config(base, webhook_url=base + "/hooks/ended", webhook_attempts=4, webhook_backoff_s=0.5)
        sender = WebhookSender(session, cfg, sleep=no_wait)
        sender.start()
        crm.webhook_failures = 2
        sender.send({"event": "contact.ended", "contact_id": "c-1", "disposition": "resolved"})
        await asyncio.wait_for(sender.drain(), 10)
        assert (sender.delivered, sender.failed, waits) == (1, 0, [0.5, 1.0])
        posts = [r for r in crm.requests if r[0] == "POST"]
        assert len(posts) == 3 and posts[-1][3]["disposition"] == "resolved"
        assert posts[0][2]["Authorization"] == "Bearer s3cret"
        crm.webhook_failures = 10
        sender.send({"contact_id": "c-2"})
        await asyncio.wait_for(sender.drain(), 10)
        assert (sender.delivered, sender.failed) == (1, 1)
        await sender.close()


def test_external_config_names_its_bad_values() -> None:
    with pytest.raises(ValueError, match="lookup_urls"):
        ExternalCrmConfig(lookup_urls={"caller_number": "https://crm.example/api"})
    with pytest.raises(ValueError, match="not a lookup key"):
        ExternalCrmConfig(lookup_urls={"phone": "https://crm.example/?q={value}"})
    with pytest.raises(ValueError, match="not a card field"):
        ExternalCrmConfig(fields={"surname": "family"})
    with pytest.raises(ValueError, match="auth_header"):
        ExternalCrmConfig(auth_header="Bearer x")
