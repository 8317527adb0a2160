"""Password hashing with scrypt (memory-hard), self-describing so parameters can be raised.

Format: ``scrypt$N$r$p$<salt b64>$<hash b64>``. With N=2^14, r=8, p=1 one hash takes
about 16 MiB of memory and some tens of milliseconds, which is what makes guessing costly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P, DKLEN = 2**14, 8, 1, 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=DKLEN, maxmem=256 * 1024 * 1024
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check; a malformed stored hash never verifies."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def needs_rehash(encoded: str) -> bool:
    """True when the stored hash uses weaker parameters than the current ones."""
    try:
        scheme, n, r, p, *_ = encoded.split("$")
        return scheme != "scrypt" or (int(n), int(r), int(p)) < (N, R, P)
    except ValueError:
        return True


# A hash to verify against when the user does not exist, so that timing does not tell.
DUMMY_HASH = hash_password(secrets.token_hex(8))
