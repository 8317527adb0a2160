"""Slowing down password guessing, per username and per client address.

Rules:

- Every login attempt counts as a failure *before* the password is checked, and a success
  takes it back. So a burst of parallel guesses is counted in full even while the first
  ones are still being hashed.
- Up to ``free`` failures cost nothing. After that each attempt must wait twice as long as
  the one before, counted from the last attempt: 1 s, 2 s, 4 s ... up to ``cap_s``.
- A username gets fewer free failures than an address, because many honest people can
  share one address (an office behind NAT) while one username is one person.
- The answer for a throttled attempt is the same whether the username exists or not.
- A success clears the username's count and takes back the address's one attempt.

State is kept in memory: per server process, forgotten on restart. It is pure (``now`` is
an argument), so tests drive it with a virtual clock.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_KEYS = 100_000


@dataclass(slots=True)
class _Record:
    failures: int
    last: float


class LoginThrottle:
    """Call ``attempt`` before checking a password and ``succeeded`` after a good one."""

    def __init__(self, *, free_per_user: int = 5, free_per_address: int = 20, cap_s: float = 900.0) -> None:
        self.free_per_user = free_per_user
        self.free_per_address = free_per_address
        self.cap_s = cap_s
        self._records: dict[str, _Record] = {}

    # Public methods --------------------------------------------------------------------

    def attempt(self, username: str, address: str, now: float) -> float:
        """Seconds to wait before trying again (nothing is recorded then), or 0.0 when the
        attempt may go ahead; it is then counted as a failure until ``succeeded``."""
        keys = self._keys(username, address)
        wait = max(self._wait(key, free, now) for key, free in keys)
        if wait > 0:
            return wait
        for key, _ in keys:
            record = self._records.setdefault(key, _Record(0, now))
            record.failures += 1
            record.last = now
        self._trim()
        return 0.0

    def succeeded(self, username: str, address: str) -> None:
        (user_key, _), (address_key, _) = self._keys(username, address)
        self._records.pop(user_key, None)
        record = self._records.get(address_key)
        if record is not None:
            record.failures -= 1
            if record.failures <= 0:
                del self._records[address_key]

    def failures(self, username: str, address: str) -> tuple[int, int]:
        """Counted failures for (username, address), for tests and diagnostics."""
        (user_key, _), (address_key, _) = self._keys(username, address)
        user, addr = self._records.get(user_key), self._records.get(address_key)
        return (user.failures if user else 0, addr.failures if addr else 0)

    # Internals -------------------------------------------------------------------------

    def _keys(self, username: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
        return (f"user:{username.lower()}", self.free_per_user), (f"addr:{address}", self.free_per_address)

    def _wait(self, key: str, free: int, now: float) -> float:
        record = self._records.get(key)
        if record is None or record.failures < free:
            return 0.0
        delay = min(self.cap_s, 2.0 ** (record.failures - free))
        return max(0.0, record.last + delay - now)

    def _trim(self) -> None:
        if len(self._records) > MAX_KEYS:  # forget the oldest half rather than grow without bound
            oldest = sorted(self._records, key=lambda k: self._records[k].last)[: MAX_KEYS // 2]
            for key in oldest:
                del self._records[key]
