"""Phone numbers typed any way reach one E.164 spelling; what is not a number is refused
with a reason a person can act on."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.config.crm import parse_country_code
from callcenter.crm_link.phone import (
    InvalidEmail,
    InvalidPhone,
    normalize_email,
    normalize_phone,
)


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


# Each country's own way of writing its numbers, with its trunk prefix: some drop a 0
# (UK, DE, FR...), Russia and Kazakhstan drop an 8, Hungary drops 06, Italy keeps its 0
# (it is part of the number), and Spain, Poland, Greece, Portugal... have none.
@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("06 6982 1234", "+39", "+390669821234"),  # Rome: the 0 stays
        ("8 (495) 123-45-67", "+7", "+74951234567"),  # Moscow: the 8 goes
        ("8 (727) 123 45 67", "+7", "+77271234567"),  # Almaty, same plan
        ("020 7946 0958", "+44", "+442079460958"),
        ("050-123 4567", "+972", "+972501234567"),
        ("(212) 555-0100", "+1", "+12125550100"),
        ("030 12345678", "+49", "+493012345678"),
        ("01 23 45 67 89", "+33", "+33123456789"),
        ("912 345 678", "+34", "+34912345678"),
        ("020 123 4567", "+31", "+31201234567"),
        ("03-1234-5678", "+81", "+81312345678"),
        ("(02) 9876 5432", "+61", "+61298765432"),
        ("(11) 91234-5678", "+55", "+5511912345678"),
        ("098765 43210", "+91", "+919876543210"),
        ("55 1234 5678", "+52", "+525512345678"),
        ("010 1234 5678", "+86", "+861012345678"),
        ("02-312-3456", "+82", "+8223123456"),
        ("021 123 4567", "+27", "+27211234567"),
        ("044 668 18 00", "+41", "+41446681800"),
        ("01 234567", "+43", "+431234567"),
        ("08-123 456 78", "+46", "+46812345678"),
        ("12 345 67 89", "+48", "+48123456789"),
        ("09 123 4567", "+64", "+6491234567"),
        ("011 4123-4567", "+54", "+541141234567"),
        ("06 1 234 5678", "+36", "+3612345678"),  # Hungary's trunk prefix is 06
        ("6123 4567", "+65", "+6561234567"),
        ("01 234 5678", "+353", "+35312345678"),
        ("21 0123 4567", "+30", "+302101234567"),
        ("21 123 4567", "+351", "+351211234567"),
        ("0212 123 45 67", "+90", "+902121234567"),
        ("044 123 4567", "+380", "+380441234567"),
        ("02 2345 6789", "+20", "+20223456789"),
    ],
)
def test_national_formats_of_many_countries(raw: str, country: str, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("8 10 44 20 7946 0958", "+7", "+442079460958"),  # Russia's own international prefix
        ("010 44 20 7946 0958", "+81", "+442079460958"),  # Japan's
        ("+44 (0) 20 7946 0958", "+1", "+442079460958"),  # the trunk 0 written after +44
        ("+4402079460958", "+1", "+442079460958"),
        ("+390669821234", "+1", "+390669821234"),  # Italy's 0 is part of the E.164 number
    ],
)
def test_international_prefixes_and_stray_trunk_prefixes(raw: str, country: str, expected: str) -> None:
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
        ("+999 123 4567", "+1", "does not start with a country code"),
        ("555-0100", "+1", "without its area code"),
        ("+1 212 555 010", "+1", r"too short: numbers under \+1 have 10 digits \(9 given\)"),
        ("020 7946 0958 12", "+44", r"too long: numbers under \+44 have 7, 9 or 10 digits"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(raw: str, country: str, reason: str) -> None:
    with pytest.raises(InvalidPhone, match=reason):
        normalize_phone(raw, country)


@pytest.mark.parametrize("code", ["972", "+9999", "+999", "+800"])
def test_a_bad_default_country_code_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="country code"):
        normalize_phone("0501234567", code)
    with pytest.raises(ValueError, match="country code"):
        parse_country_code(code)


@settings(max_examples=400, deadline=None)
@given(
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    national=st.text(alphabet="0123456789", min_size=4, max_size=13),
)
def test_the_e164_fast_path_agrees_with_the_parser(code: int, national: str) -> None:
    """``+digits`` skips the parser; whatever it accepts the parser reads the same way."""
    raw = f"+{code}{national}"
    try:
        ours = normalize_phone(raw, "+1")
    except InvalidPhone:
        return
    number = phonenumbers.parse(raw, None)
    assert phonenumbers.is_possible_number(number)
    assert ours == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_emails_are_trimmed_and_lowercased() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    assert normalize_email("mailto:ada@example.com") == "ada@example.com"
    with pytest.raises(InvalidEmail, match="not an e-mail address"):
        normalize_email("ada at example.com")
