"""Signed login tokens: how the bank's own web login vouches for a chat customer.

A customer logged in to the bank's site opens the chat widget with a token the site
made for them; the chat starts verified as that customer (a verify node of the flow turns
it into ``contact.verified`` with method ``token``). Everything else a chat customer
types (name, phone, e-mail) is a claim.

Format (``docs/crm.md``, "Login tokens")::

    <customer id>.<expires>.<signature>

- ``customer id``: the CRM's customer id (``cus-demo-0001``), 1-64 printable characters
  without spaces; it may contain dots (the token is split from the right);
- ``expires``: when the token stops being accepted, whole seconds since the Unix epoch
  (UTC), at most ``crm.login_token_max_ttl_s`` ahead of the center's clock;
- ``signature``: HMAC-SHA256 with the key ``crm.login_token_secret`` (its UTF-8 bytes)
  over ``<customer id>.<expires>`` (UTF-8), as 64 lowercase hex digits.

In Python: ``hmac.new(secret.encode(), f"{cid}.{exp}".encode(), hashlib.sha256).hexdigest()``.
The signature is checked before the expiry, in constant time, so a forger learns nothing
but "forged". A token can be used until it expires (keep the lifetime short).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from callcenter.core.errors import CallcenterError

_HEX = re.compile(r"^[0-9a-f]{64}$")
_EXPIRES = re.compile(r"^[0-9]{1,12}$")
MAX_CUSTOMER_ID = 64


class LoginTokenError(CallcenterError):
    """A token refused; ``code`` is ``bad_login_token``, ``login_token_forged``,
    ``login_token_expired`` or ``login_token_not_accepted``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sign(customer_id: str, expires: int, secret: str) -> str:
    payload = f"{customer_id}.{expires}".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def make_login_token(customer_id: str, expires: int, secret: str) -> str:
    """What the bank's site hands the widget (and what the tests and the CLI make)."""
    return f"{customer_id}.{expires}.{sign(customer_id, expires, secret)}"


def check_login_token(token: str, *, secret: str, now: float, max_ttl_s: float) -> str:
    """The customer id a genuine, unexpired token names; else ``LoginTokenError``."""
    if not secret:
        raise LoginTokenError("login_token_not_accepted", "this center takes no login tokens")
    parts = token.rsplit(".", 2)
    if len(parts) != 3:
        raise LoginTokenError("bad_login_token", "a login token is <customer id>.<expires>.<signature>")
    customer_id, expires, signature = parts
    if not 0 < len(customer_id) <= MAX_CUSTOMER_ID or not customer_id.isprintable() or " " in customer_id:
        raise LoginTokenError("bad_login_token", "the token's customer id is empty, too long or unprintable")
    if not _EXPIRES.match(expires) or not _HEX.match(signature):
        raise LoginTokenError(
            "bad_login_token", "expires must be whole Unix seconds and the signature 64 lowercase hex digits"
        )
    if not hmac.compare_digest(signature, sign(customer_id, int(expires), secret)):
        raise LoginTokenError("login_token_forged", "the login token's signature does not match")
    if int(expires) <= now:
        raise LoginTokenError("login_token_expired", "the login token has expired; log in again")
    if int(expires) > now + max_ttl_s:
        raise LoginTokenError(
            "bad_login_token", f"the login token is valid for too long (at most {max_ttl_s:g} s ahead)"
        )
    return customer_id
