"""Phone numbers to E.164 and e-mail addresses to one spelling, so that a caller is found
whichever way the number was typed into the CRM or presented by the carrier.

Rules (``default_country_code`` such as ``"+972"`` or ``"+1"`` comes from ``crm:``):

- ``tel:`` and ``sip:user@host`` forms are reduced to their number part; spaces, dashes,
  dots, slashes and brackets are separators and dropped.
- ``+`` or the ``00`` international prefix (``011`` too under ``+1``) start an
  international number; anything else is national and gets the default country code,
  after one national trunk ``0`` is dropped (``050-1234567`` -> ``+972501234567``). Under
  ``+1`` a leading trunk ``1`` of an 11-digit number is dropped and 10 digits are required.
- The result has 7 to 15 digits after the ``+`` (E.164 allows at most 15).

Anything else raises ``InvalidPhone`` whose message is the reason, meant for people.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-./()\[\]]")
_WITHHELD = frozenset({"anonymous", "unknown", "private", "restricted", "withheld", "unavailable"})
_COUNTRY = re.compile(r"^\+[1-9][0-9]{0,2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E164_MAX_DIGITS = 15
E164_MIN_DIGITS = 7


class InvalidPhone(ValueError):
    """A number that cannot be read as a phone number; ``str()`` is the reason."""


class InvalidEmail(ValueError):
    """An address that is not an e-mail address; ``str()`` is the reason."""


def parse_country_code(code: str) -> str:
    """``"+972"`` -> ``"972"``; ``ValueError`` unless it is ``+`` and 1-3 digits."""
    if not _COUNTRY.match(code):
        raise ValueError(f"country code {code!r} must be '+' and 1-3 digits, e.g. '+1' or '+972'")
    return code[1:]


def normalize_phone(raw: str, default_country_code: str = "+1") -> str:
    """The E.164 form (``"+972501234567"``) of ``raw``, or ``InvalidPhone`` with the reason."""
    country = parse_country_code(default_country_code)
    text = raw.strip()
    if not text:
        raise InvalidPhone("the number is empty")
    if text.lower() in _WITHHELD:
        raise InvalidPhone(f"the number is withheld ({text})")
    text = _strip_uri(text)
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("+"):
        international, digits = True, compact[1:]
    elif compact.startswith("00"):
        international, digits = True, compact[2:]
    elif country == "1" and compact.startswith("011"):
        international, digits = True, compact[3:]
    else:
        international, digits = False, compact
    if not digits:
        raise InvalidPhone(f"{raw!r} has no digits")
    bad = sorted({c for c in digits if not c.isascii() or not c.isdigit()})
    if bad:
        raise InvalidPhone(f"{raw!r} contains {''.join(bad)!r}: only digits, '+' and separators are allowed")
    full = digits if international else _national(digits, country, raw)
    if full.startswith("0"):
        raise InvalidPhone(f"{raw!r}: a country code cannot start with 0")
    if len(full) > E164_MAX_DIGITS:
        raise InvalidPhone(f"{raw!r} is too long: E.164 numbers have at most 15 digits ({len(full)} given)")
    if len(full) < E164_MIN_DIGITS:
        raise InvalidPhone(f"{raw!r} is too short for a phone number ({len(full)} digits with country code)")
    return "+" + full


def _strip_uri(text: str) -> str:
    lowered = text.lower().strip("<>")
    for scheme in ("tel:", "sip:", "sips:"):
        if lowered.startswith(scheme):
            rest = text.strip("<>")[len(scheme) :]
            return rest.split("@", 1)[0].split(";", 1)[0]
    return text


def _national(digits: str, country: str, raw: str) -> str:
    if country == "1":
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10:
            raise InvalidPhone(f"{raw!r}: a North American number has 10 digits ({len(digits)} given)")
        return "1" + digits
    if digits.startswith("0"):
        digits = digits[1:]  # the national trunk prefix is not part of the E.164 number
    return country + digits


def normalize_email(raw: str) -> str:
    """The address lowercased and trimmed, or ``InvalidEmail`` with the reason. The whole
    address is lowercased: mail systems treat the local part case-insensitively in practice."""
    text = raw.strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    if not _EMAIL.match(text):
        raise InvalidEmail(f"{raw!r} is not an e-mail address like name@example.com")
    if len(text) > 254:
        raise InvalidEmail("an e-mail address has at most 254 characters")
    return text
