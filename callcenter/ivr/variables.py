"""Session variables: one flat text mapping that prompts, conditions and queue attributes read.

Names (see docs/ivr.md): ``caller``, ``called``, ``channel``, ``contact_id``, ``flow``;
``customer.<field>`` and ``answer.<field>`` after a lookup; ``digits.<node>`` (or the
collect node's ``var``); ``choice.<node>`` (the menu option's key); ``rating``;
``queue``, ``position``, ``ewt_s``, ``ewt_minutes`` while queued; anything a ``set``
node or a menu option's ``set`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def as_text(value: Any) -> str:
    """How a CRM value reads in a prompt or a condition: booleans as ``true``/``false``,
    whole floats without ``.0``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flatten(prefix: str, data: Mapping[str, Any]) -> dict[str, str]:
    """``{"name": {"first": "Ada"}}`` under ``customer`` -> ``{"customer.name.first": "Ada"}``.
    ``None`` values are left out (unset, like a field the CRM does not have)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}.{str(key).lower()}"
        if isinstance(value, Mapping):
            out.update(flatten(name, value))
        elif value is not None and not isinstance(value, list | tuple | set):
            out[name] = as_text(value)
    return out


def wait_vars(position: int, ewt_s: float | None) -> dict[str, str]:
    """Announcement variables; ``ewt_minutes`` rounds up and is at least 1."""
    out = {"position": str(position)}
    if ewt_s is not None and math.isfinite(ewt_s):
        out["ewt_s"] = str(round(ewt_s))
        out["ewt_minutes"] = str(max(1, math.ceil(ewt_s / 60)))
    return out


def mask(value: str, show_last: int) -> str:
    """``"12345678"`` with ``show_last=4`` -> ``"****5678"``; ``show_last=0`` hides all."""
    if show_last <= 0 or len(value) <= show_last:
        return "*" * len(value)
    return "*" * (len(value) - show_last) + value[-show_last:]
