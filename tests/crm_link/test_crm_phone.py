"""Phone numbers typed any way reach one E.164 spelling; what is not a number is refused
with a reason a person can act on."""

from __future__ import annotations

import pytest

from callcenter.crm_link.phone import InvalidEmail, InvalidPhone, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("050-123 4567", "+972", "+972501234567"),
        ("0501234567", "+972", "+972501234567"),
        ("+972 (50) 123.4567", "+1", "+972501234567"),
        ("00972501234567", "+1", "+972501234567"),
        ("(212) 555-0100", "+1", "+12125550100"),
        ("1-212-555-0100", "+1", "+12125550100"),
        ("011 44 20 7946 0958", "+1", "+442079460958"),
        ("tel:+1-212-555-0100", "+972", "+12125550100"),
        ("<sip:0501234567@pbx.example;user=phone>", "+972", "+972501234567"),
        ("020 7946 0958", "+44", "+442079460958"),
    ],
)
def test_numbers_reach_e164(raw: str, country: str, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        ("", "+1", "empty"),
        ("anonymous", "+1", "withheld"),
        ("1-800-FLOWERS", "+1", "contains"),
        ("555-0100", "+1", "10 digits"),
        ("+1234567890123456", "+1", "at most 15 digits"),
        ("12", "+972", "too short"),
        ("+", "+1", "no digits"),
        ("+0501234567", "+1", "cannot start with 0"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(raw: str, country: str, reason: str) -> None:
    with pytest.raises(InvalidPhone, match=reason):
        normalize_phone(raw, country)


def test_a_bad_default_country_code_is_refused() -> None:
    with pytest.raises(ValueError, match="country code"):
        normalize_phone("0501234567", "972")


def test_emails_are_trimmed_and_lowercased() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    assert normalize_email("mailto:ada@example.com") == "ada@example.com"
    with pytest.raises(InvalidEmail, match="not an e-mail address"):
        normalize_email("ada at example.com")
