"""An outside CRM over HTTP JSON: lookups (``HttpCrmDirectory``) and the webhook sent when
a contact ends (``WebhookSender``).

Lookups fill the URL template configured for the lookup key with the normalized value
(E.164 number, lowercased address), URL-encoded, and send the configured auth header.
An answer is a JSON object, or a list whose first element is taken; 404 or an empty list
means "nobody". ``fields`` renames their fields to ours; fields already named like ours
are taken as they are. A timeout, a connection error, a 5xx or an unreadable body is a
failure and raises ``CrmUnavailable``.

Circuit breaker (per directory): after ``breaker_failures`` failures in a row it *opens*
and lookups fail at once, without a request, so a dead CRM costs callers nothing; after
``breaker_cooldown_s`` it is *half-open*: the next lookup is let through as a trial while
others still fail fast; the trial's success closes the breaker, its failure opens it for
another cool-down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from callcenter.config.crm import ExternalCrmConfig
from callcenter.crm_link.phone import InvalidEmail, InvalidPhone, normalize_email, normalize_phone
from callcenter.ports.crm_directory import CrmUnavailable
from callcenter.ports.customer_card import CustomerCard, LookupBy

log = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures; see the module docstring for the states. ``now`` is a
    monotonic clock in seconds (injected so tests choose the time)."""

    def __init__(self, failures: int, cooldown_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self.threshold, self.cooldown_s, self._now = failures, cooldown_s, now
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self._now() >= self.opened_at + self.cooldown_s else "open"

    def allow(self) -> bool:
        """Whether a request may go out now; in half-open state only one trial at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial:
            self._trial = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures, self.opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        self.failures += 1
        if self._trial or self.failures >= self.threshold:
            self.opened_at = self._now()
        self._trial = False


class HttpCrmDirectory:
    """``CrmDirectory`` over an outside CRM. The caller owns ``session`` (one per app)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: ExternalCrmConfig,
        *,
        country_code: str = "+1",
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session, self.config, self.country_code = session, config, country_code
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s, now)
        self.headers: dict[str, str] = {"Accept": "application/json"}
        if config.auth_header:
            name, _, value = config.auth_header.partition(":")
            self.headers[name.strip()] = value.strip()

    async def lookup(self, by: LookupBy, value: str) -> CustomerCard | None:
        template = self.config.lookup_urls.get(by)
        key = self._normalize(by, value)
        if template is None or key is None:
            return None
        if not self.breaker.allow():
            raise CrmUnavailable(f"the CRM circuit is open after {self.breaker.failures} failures")
        url = template.replace("{value}", quote(key, safe=""))
        try:
            found = await self._get(url)
        except CrmUnavailable:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return None if found is None else self._card(found, by, value)

    def _normalize(self, by: LookupBy, value: str) -> str | None:
        try:
            if by == "caller_number":
                return normalize_phone(value, self.country_code)
            if by == "email":
                return normalize_email(value)
        except (InvalidPhone, InvalidEmail):
            return None
        return value.strip() or None

    async def _get(self, url: str) -> Mapping[str, Any] | None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_ms / 1000)
        try:
            async with self.session.get(url, headers=self.headers, timeout=timeout) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise CrmUnavailable(f"the CRM answered {response.status} {response.reason}")
                body = await response.json(content_type=None)
        except TimeoutError:
            raise CrmUnavailable(f"the CRM did not answer within {self.config.timeout_ms} ms") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise CrmUnavailable(f"the CRM could not be read: {type(exc).__name__}: {exc}") from None
        if isinstance(body, list):
            body = body[0] if body else None
        if body is not None and not isinstance(body, dict):
            raise CrmUnavailable("the CRM answered something other than a JSON object or list")
        return body

    def _card(self, data: Mapping[str, Any], by: str, value: str) -> CustomerCard:
        ours: dict[str, Any] = {}
        for theirs, field in self.config.fields.items():
            if theirs in data:
                ours[field] = data[theirs]
        for field in (
            "customer_id",
            "name",
            "first_name",
            "account_number",
            "language",
            "tier",
            "phones",
            "emails",
        ):
            if field not in ours and field in data:
                ours[field] = data[field]
        if "customer_id" not in ours and "id" in data:
            ours["customer_id"] = data["id"]
        if ours.get("customer_id") in (None, ""):
            raise CrmUnavailable("the CRM's answer has no customer id (check `fields`)")
        return CustomerCard(
            customer_id=str(ours["customer_id"]),
            name=str(ours.get("name") or ours.get("first_name") or ours["customer_id"]),
            first_name=_text(ours.get("first_name")),
            account_number=_text(ours.get("account_number")),
            language=_text(ours.get("language")),
            tier=_text(ours.get("tier")),
            phones=_texts(ours.get("phones")),
            emails=_texts(ours.get("emails")),
            source="external",
            looked_up=(by, value),
        )


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


class WebhookSender:
    """POSTs JSON payloads to ``config.webhook_url`` from one worker task, in order.

    Each payload is tried up to ``webhook_attempts`` times, waiting ``webhook_backoff_s``
    x 2^n between tries; a 2xx is delivered, a 4xx other than 408/429 is refused for good
    (retrying the same body cannot help), anything else is retried. At most ``max_queue``
    payloads wait; beyond that the oldest is dropped and logged, so a dead CRM cannot eat
    the server's memory. ``sleep`` is injected so tests need not wait."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: ExternalCrmConfig,
        *,
        max_queue: int = 10_000,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        if config.webhook_url is None:
            raise ValueError("no webhook_url configured")
        self.session, self.config, self.url, self._sleep = session, config, config.webhook_url, sleep
        self.headers = {"Content-Type": "application/json"}
        if config.auth_header:
            name, _, value = config.auth_header.partition(":")
            self.headers[name.strip()] = value.strip()
        self._queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue(max_queue)
        self._worker: asyncio.Task[None] | None = None
        self.delivered = self.failed = self.dropped = 0

    def send(self, payload: Mapping[str, Any]) -> None:
        """Queue ``payload``; returns at once. ``start()`` must have been called."""
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
            log.warning("CRM webhook queue full: oldest payload dropped")
        self._queue.put_nowait(payload)

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="crm-webhook")

    async def drain(self) -> None:
        """Wait until every queued payload is delivered or given up."""
        await self._queue.join()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            payload = await self._queue.get()
            try:
                if await self.deliver(payload):
                    self.delivered += 1
                else:
                    self.failed += 1
            finally:
                self._queue.task_done()

    async def deliver(self, payload: Mapping[str, Any]) -> bool:
        """Try ``payload`` with retries; True when the CRM took it."""
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_ms / 1000)
        problem = ""
        for attempt in range(self.config.webhook_attempts):
            if attempt:
                await self._sleep(self.config.webhook_backoff_s * 2 ** (attempt - 1))
            try:
                async with self.session.post(
                    self.url, json=dict(payload), headers=self.headers, timeout=timeout
                ) as response:
                    if 200 <= response.status < 300:
                        return True
                    problem = f"{response.status} {response.reason}"
                    if 400 <= response.status < 500 and response.status not in (408, 429):
                        break
            except (TimeoutError, aiohttp.ClientError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
        log.warning("CRM webhook for %s not delivered: %s", payload.get("contact_id"), problem)
        return False
