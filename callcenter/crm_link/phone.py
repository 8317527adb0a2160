"""Phone numbers to E.164 and e-mail addresses to one spelling, so that a caller is found
whichever way the number was typed into the CRM or presented by the carrier.

Numbering plans are the ``phonenumbers`` library's (Google's libphonenumber metadata): it
knows each country's trunk prefix (Italy keeps the leading ``0``, Russia drops the ``8``,
the UK and Israel drop the ``0``), its international prefixes and its number lengths.

Rules (``default_country_code`` such as ``"+972"`` or ``"+1"`` comes from ``crm:``; it
names the country, the library's main region for that code, whose national numbers are read):

- ``tel:`` and ``sip:user@host`` forms are reduced to their number part; spaces, dashes,
  dots, slashes and brackets are separators. Letters are refused (no vanity numbers: a
  CRM field reading ``1-800-FLOWERS`` is a typing mistake more often than not).
- ``+`` or the ``00`` international prefix (``011`` too under ``+1``) start an
  international number; the default country's own prefixes (``810`` in Russia, ``010`` in
  Japan) are understood as well. Anything else is a national number of the default country.
- The number must have a length possible in its country (``is_possible_number``). Whether
  the range is assigned (``is_valid_number``) is not asked: test numbers and ranges newer
  than the metadata must still find their customer.

A number that is already E.164 (``+`` then digits, the usual carrier caller id) takes a
fast path that checks the country code and the length against the metadata without the
library's parser (about 15 times cheaper: bench/phone_bench.py); when that check fails the parser decides
(it mends ``+44 0 20...``, or gives the reason). Anything else raises ``InvalidPhone``
whose message is the reason, meant for people.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, ValidationResult

from callcenter.config.crm import parse_country_code

_SEPARATORS = re.compile(r"[\s\-./()\[\]]")
_WITHHELD = frozenset({"anonymous", "unknown", "private", "restricted", "withheld", "unavailable"})
_E164 = re.compile(r"^\+[0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E164_MAX_DIGITS = 15
E164_MIN_DIGITS = 7


class InvalidPhone(ValueError):
    """A number that cannot be read as a phone number; ``str()`` is the reason."""


class InvalidEmail(ValueError):
    """An address that is not an e-mail address; ``str()`` is the reason."""


@cache
def normalize_phone(raw: str, default_country_code: str = "+1") -> str:
    """The E.164 form (``"+972501234567"``) of ``raw``, or ``InvalidPhone`` with the reason."""
    country = parse_country_code(default_country_code)
    text = raw.strip()
    if _E164.match(text):  # a carrier's caller id: no clean-up to do
        fast = _fast_e164(raw, text[1:])
        if fast is not None:
            return fast
    if not text:
        raise InvalidPhone("the number is empty")
    if text.lower() in _WITHHELD:
        raise InvalidPhone(f"the number is withheld ({text})")
    compact = _SEPARATORS.sub("", _strip_uri(text))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif country == "1" and compact.startswith("011"):
        compact = "+" + compact[3:]
    digits = compact.removeprefix("+")
    if not digits:
        raise InvalidPhone(f"{raw!r} has no digits")
    bad = sorted({c for c in digits if not c.isascii() or not c.isdigit()})
    if bad:
        raise InvalidPhone(f"{raw!r} contains {''.join(bad)!r}: only digits, '+' and separators are allowed")
    if compact != text and _E164.match(compact):
        fast = _fast_e164(raw, digits)
        if fast is not None:
            return fast
    return _parsed(raw, compact, phonenumbers.region_code_for_country_code(int(country)))


def _strip_uri(text: str) -> str:
    lowered = text.lower().strip("<>")
    for scheme in ("tel:", "sip:", "sips:"):
        if lowered.startswith(scheme):
            rest = text.strip("<>")[len(scheme) :]
            return rest.split("@", 1)[0].split(";", 1)[0]
    return text


def _fast_e164(raw: str, digits: str) -> str | None:
    """``+digits`` checked against the metadata without the parser: the E.164 form, None
    when the national part's length does not fit (the parser then mends or explains), or
    ``InvalidPhone`` for what no parser can mend."""
    if digits[0] == "0":
        raise InvalidPhone(f"{raw!r}: a country code cannot start with 0")
    if len(digits) > E164_MAX_DIGITS:
        raise InvalidPhone(f"{raw!r} is too long: E.164 numbers have at most 15 digits ({len(digits)} given)")
    if len(digits) < E164_MIN_DIGITS:
        raise InvalidPhone(
            f"{raw!r} is too short for a phone number ({len(digits)} digits with the country code)"
        )
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            metadata = _metadata(code)
            national = digits[size:]
            if metadata is None or len(national) not in _lengths(metadata):
                return None
            trunk = metadata.national_prefix_for_parsing
            if trunk is not None and re.match(trunk, national):
                return None  # maybe a national prefix the parser would drop (+46 08...)
            return "+" + digits
    raise InvalidPhone(f"{raw!r} does not start with a country code (+{digits[:3]}... is not assigned)")


def _metadata(code: int) -> PhoneMetadata | None:
    region = phonenumbers.region_code_for_country_code(code)
    return PhoneMetadata.metadata_for_region_or_calling_code(code, region)


def _lengths(metadata: PhoneMetadata | None) -> Sequence[int]:
    """The national (significant) number lengths the country's plan allows."""
    desc = None if metadata is None else metadata.general_desc
    return () if desc is None else desc.possible_length


def _parsed(raw: str, text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhone(_parse_reason(raw, exc)) from None
    national = phonenumbers.national_significant_number(number)
    code = number.country_code or 0
    plan = f"numbers under +{code} have {_either(_lengths(_metadata(code)))} digits ({len(national)} given)"
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.IS_POSSIBLE:
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        raise InvalidPhone(f"{raw!r} does not start with a country code (+{code} is not assigned)")
    if reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        raise InvalidPhone(f"{raw!r} is a local number without its area code: {plan}")
    if reason == ValidationResult.TOO_SHORT:
        raise InvalidPhone(f"{raw!r} is too short: {plan}")
    if reason == ValidationResult.TOO_LONG:
        raise InvalidPhone(f"{raw!r} is too long: {plan}")
    raise InvalidPhone(f"{raw!r} has a length no number has there: {plan}")


def _parse_reason(raw: str, exc: NumberParseException) -> str:
    kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        return f"{raw!r} does not start with a country code"
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return f"{raw!r} is too short for a phone number"
    if kind == NumberParseException.TOO_LONG:
        return f"{raw!r} is too long for a phone number"
    return f"{raw!r} is not a phone number"


def _either(lengths: Sequence[int]) -> str:
    words = [str(n) for n in sorted(lengths)]
    if len(words) <= 1:
        return "".join(words) or "no"
    return ", ".join(words[:-1]) + " or " + words[-1]


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
