"""The ``recordings:`` section of ``callcenter.yaml`` (docs/recordings.md).

Example::

    recordings:
      agents_play_own: true     # an agent may play recordings of contacts they handled
      retention_days: 90        # files older than this are deleted (null: kept for ever)
      sweep_interval_s: 3600    # how often the retention sweep runs

Supervisors and admins may play every recording; an agent may always play a voicemail
message offered or connected to them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

DAY_S = 86400.0


class RecordingsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who may play recordings besides supervisors, and how long they are kept.
    ``agents_play_own`` is off by default (a recording holds what the customer said); the
    demo configuration turns it on."""

    agents_play_own: bool = False
    retention_days: Annotated[float, msgspec.Meta(gt=0)] | None = None
    sweep_interval_s: Annotated[float, msgspec.Meta(ge=60, le=86400)] = 3600.0

    def retention_s(self) -> float | None:
        return None if self.retention_days is None else self.retention_days * DAY_S
