"""The ``crm:`` section of ``callcenter.yaml`` (frozen dataclasses the YAML builder fills).

Example::

    crm:
      default_country_code: "+972"
      lookup_budget_ms: 200
      repeat_window_days: 7
      external:
        lookup_urls:
          caller_number: "https://crm.example/api/customers?phone={value}"
          account_number: "https://crm.example/api/customers?account={value}"
        fields: {id: customer_id, surname: name, given_name: first_name}
        auth_header: "Authorization: Bearer s3cret"
        timeout_ms: 800
        breaker_failures: 5
        breaker_cooldown_s: 30
        webhook_url: "https://crm.example/hooks/contact-ended"
        webhook_attempts: 4

Without ``external`` the customer store in the center's own database answers lookups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callcenter.crm_link.phone import parse_country_code

LOOKUP_KEYS = ("caller_number", "email", "account_number", "customer_id")
CARD_FIELDS = (
    "customer_id", "name", "first_name", "account_number", "language", "tier", "phones", "emails",
)
_HEADER = re.compile(r"^[A-Za-z0-9-]+:\s*\S.*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalCrmConfig:
    """An outside CRM reached over HTTP JSON (see ``http_crm.py``).

    ``lookup_urls`` maps a lookup key (caller_number, email, account_number, customer_id)
    to a URL template with ``{value}`` (URL-encoded when filled in); keys left out are not
    looked up there. ``fields`` maps *their* field name to *our* card field. ``auth_header``
    is one ``Name: value`` line sent with every request. The circuit breaker opens after
    ``breaker_failures`` failures in a row and lets one trial request through after
    ``breaker_cooldown_s``."""

    lookup_urls: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    auth_header: str | None = None
    timeout_ms: int = 1000
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0
    webhook_url: str | None = None
    webhook_attempts: int = 4
    webhook_backoff_s: float = 1.0

    def __post_init__(self) -> None:
        for key, template in self.lookup_urls.items():
            if key not in LOOKUP_KEYS:
                raise ValueError(f"lookup_urls: {key!r} is not a lookup key ({', '.join(LOOKUP_KEYS)})")
            if "{value}" not in template or not template.startswith(("http://", "https://")):
                raise ValueError(f"lookup_urls.{key}: need an http(s) URL containing {{value}}")
        for theirs, ours in self.fields.items():
            if ours not in CARD_FIELDS:
                raise ValueError(f"fields.{theirs}: {ours!r} is not a card field ({', '.join(CARD_FIELDS)})")
        if self.auth_header is not None and not _HEADER.match(self.auth_header):
            raise ValueError("auth_header must be one 'Name: value' line")
        if self.timeout_ms <= 0 or self.breaker_failures < 1 or self.breaker_cooldown_s < 0:
            raise ValueError("timeout_ms must be positive, breaker_failures at least 1, cool-down >= 0")
        if self.webhook_url is not None and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http(s) URL")
        if self.webhook_attempts < 1 or self.webhook_backoff_s < 0:
            raise ValueError("webhook_attempts must be at least 1 and webhook_backoff_s >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmConfig:
    """``default_country_code`` turns national numbers (``050-123 4567``) into E.164;
    ``lookup_budget_ms`` is how long an offer waits for the CRM before it goes out with an
    "unidentified caller" card that is filled in later; a contact is a repeat when the
    customer's previous contact arrived within ``repeat_window_days``."""

    default_country_code: str = "+1"
    lookup_budget_ms: int = 200
    repeat_window_days: float = 7.0
    history_limit: int = 5
    external: ExternalCrmConfig | None = None

    def __post_init__(self) -> None:
        parse_country_code(self.default_country_code)  # raises ValueError with the reason
        if self.lookup_budget_ms < 0:
            raise ValueError("lookup_budget_ms must be 0 or more")
        if self.repeat_window_days <= 0:
            raise ValueError("repeat_window_days must be positive")
        if not 1 <= self.history_limit <= 50:
            raise ValueError("history_limit must be 1-50")

    @property
    def lookup_budget_s(self) -> float:
        return self.lookup_budget_ms / 1000
