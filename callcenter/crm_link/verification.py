"""What a customer proves who they are with, as the CRM keeps and checks it.

A PIN is kept as its scrypt hash (``auth/passwords.py``, the users' hasher: salted and
memory-hard, so a stolen table does not give the PINs away cheaply); checking one costs
the same whether the customer has a PIN or not (a dummy hash), so the timing does not
tell which accounts exist. A date of birth is kept as ``YYYY-MM-DD`` and is keyed or
typed as eight digits, day first (DDMMYYYY) or year first (YYYYMMDD); separators
(``14.05.1988``, ``1988-05-14``) are dropped by the IVR before it gets here.
"""

from __future__ import annotations

import datetime as dt
import functools

from callcenter.auth.passwords import hash_password, verify_password


@functools.cache
def _dummy() -> str:
    return hash_password("not a pin")


def hash_pin(pin: str) -> str:
    return hash_password(pin)


def pin_matches(pin: str, encoded: str | None) -> bool:
    """Constant work: a customer without a PIN is checked against a dummy hash."""
    if encoded is None:
        verify_password(pin, _dummy())
        return False
    return verify_password(pin, encoded)


def birth_dates(keyed: str) -> set[str]:
    """The dates (``YYYY-MM-DD``) eight keyed digits can mean: DDMMYYYY or YYYYMMDD."""
    digits = "".join(k for k in keyed if k.isdigit())
    if len(digits) != 8 or len(keyed) != 8:
        return set()
    out = set()
    for year, month, day in ((digits[4:], digits[2:4], digits[:2]), (digits[:4], digits[4:6], digits[6:])):
        try:
            out.add(dt.date(int(year), int(month), int(day)).isoformat())
        except ValueError:
            continue
    return out
