"""The ``crm:`` section of ``callcenter.yaml`` (frozen structs the YAML reader fills).

Example::

    crm:
      default_country_code: "+972"
      lookup_budget_ms: 200
      repeat_window_days: 7
      demo_customers: 200           # seed a synthetic customer base on first start
      route_rules:                  # at arrival, by the caller's CRM attributes
        - when: {repeat_contact: "yes", open_complaint: "yes"}
          queue: complaints
          from_queues: [general, english]
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

import msgspec
import phonenumbers

_COUNTRY = re.compile(r"^\+[1-9][0-9]{0,2}$")


def parse_country_code(code: str) -> str:
    """``"+972"`` -> ``"972"``; ``ValueError`` unless it is ``+`` and the calling code of a
    country (``+800`` and other non-geographic codes have no national numbers to read)."""
    if not _COUNTRY.match(code):
        raise ValueError(f"country code {code!r} must be '+' and 1-3 digits, e.g. '+1' or '+972'")
    region = phonenumbers.region_code_for_country_code(int(code[1:]))
    if region in ("ZZ", "001"):
        raise ValueError(f"country code {code!r} is not the calling code of a country, e.g. '+1' or '+972'")
    return code[1:]


LOOKUP_KEYS = ("caller_number", "email", "account_number", "customer_id")
# the keys ``model.contact_attributes`` gives; route rules may match only these
ATTRIBUTE_KEYS = (
    "identified",
    "tier",
    "segment",
    "value_cell",
    "churn_risk",
    "language",
    "rfm",
    "repeat_contact",
    "open_complaint",
)
CARD_FIELDS = (
    "customer_id",
    "name",
    "first_name",
    "account_number",
    "language",
    "tier",
    "phones",
    "emails",
)
_HEADER = re.compile(r"^[A-Za-z0-9-]+:\s*\S.*$")


class ExternalCrmConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An outside CRM reached over HTTP JSON (see ``http_crm.py``).

    ``lookup_urls`` maps a lookup key (caller_number, email, account_number, customer_id)
    to a URL template with ``{value}`` (URL-encoded when filled in); keys left out are not
    looked up there. ``fields`` maps *their* field name to *our* card field. ``auth_header``
    is one ``Name: value`` line sent with every request. The circuit breaker opens after
    ``breaker_failures`` failures in a row and lets one trial request through after
    ``breaker_cooldown_s``."""

    lookup_urls: dict[str, str] = msgspec.field(default_factory=dict)
    fields: dict[str, str] = msgspec.field(default_factory=dict)
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


class CrmRouteRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """At arrival, a contact whose CRM attributes match ``when`` (every key equal; the keys
    of ``ATTRIBUTE_KEYS``) goes to ``queue`` instead of the queue it was headed for;
    ``from_queues`` limits the rule to contacts headed for those queues (empty: any). The
    first matching rule wins; the loader checks that the queues exist."""

    when: dict[str, str]
    queue: str
    from_queues: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.when:
            raise ValueError("when: name at least one attribute (a rule matching everyone is a queue)")
        for key, value in self.when.items():
            if key not in ATTRIBUTE_KEYS:
                raise ValueError(f"when.{key}: not a CRM attribute ({', '.join(ATTRIBUTE_KEYS)})")
            if not value:
                raise ValueError(f"when.{key}: needs a value")

    def applies(self, attributes: dict[str, str], queue: str) -> bool:
        if self.from_queues and queue not in self.from_queues:
            return False
        return queue != self.queue and all(attributes.get(k) == v for k, v in self.when.items())


class CrmConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``default_country_code`` turns national numbers (``050-123 4567``) into E.164;
    ``lookup_budget_ms`` is how long an offer waits for the CRM before it goes out with an
    "unidentified caller" card that is filled in later; a contact is a repeat when the
    customer's previous contact arrived within ``repeat_window_days``. ``route_rules``
    send contacts to another queue by the caller's CRM attributes (``CrmRouteRule``).
    ``demo_customers`` > 0 seeds that many synthetic customers (and the demo callers,
    ``demo.py``) when the server starts on a store with no customers.
    ``login_token_secret`` is the HMAC key of the login tokens the bank's web login hands
    the chat widget (``chat/login_token.py``; empty: tokens are refused), which may expire
    at most ``login_token_max_ttl_s`` ahead."""

    default_country_code: str = "+1"
    lookup_budget_ms: int = 200
    repeat_window_days: float = 7.0
    history_limit: int = 5
    route_rules: list[CrmRouteRule] = msgspec.field(default_factory=list)
    demo_customers: int = 0
    external: ExternalCrmConfig | None = None
    login_token_secret: str = ""  # never in repr (see __repr__)
    login_token_max_ttl_s: float = 600.0

    def __post_init__(self) -> None:
        parse_country_code(self.default_country_code)  # raises ValueError with the reason
        if self.login_token_secret and len(self.login_token_secret) < 16:
            raise ValueError("login_token_secret must be at least 16 characters (or empty: no login tokens)")
        if not 0 < self.login_token_max_ttl_s <= 86400:
            raise ValueError("login_token_max_ttl_s must be more than 0 and at most 86400")
        if self.lookup_budget_ms < 0:
            raise ValueError("lookup_budget_ms must be 0 or more")
        if self.repeat_window_days <= 0:
            raise ValueError("repeat_window_days must be positive")
        if not 1 <= self.history_limit <= 50:
            raise ValueError("history_limit must be 1-50")
        if not 0 <= self.demo_customers <= 100_000:
            raise ValueError("demo_customers must be 0-100000 (use `callcenter crm seed` for more)")

    def __repr__(self) -> str:
        shown = {f: getattr(self, f) for f in self.__struct_fields__ if f != "login_token_secret"}
        return f"CrmConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def route(self, attributes: dict[str, str], queue: str) -> tuple[str, int | None]:
        """The queue a contact headed for ``queue`` goes to, and the index of the rule that
        sent it there (None: no rule matched)."""
        for index, rule in enumerate(self.route_rules):
            if rule.applies(attributes, queue):
                return rule.queue, index
        return queue, None

    @property
    def lookup_budget_s(self) -> float:
        return self.lookup_budget_ms / 1000
