"""The spill file: events the interaction log could not write before it stopped.

At shutdown the log flushes with a bound (``storage.shutdown_flush_s``); what is still
unwritten then is appended to the spill file, one JSON object a line with the event's
fields (``type, at, contact_id, agent_id, queue, data, context_id, parent_id``). On the
next start the log appends the file's events (in file order, before anything else) and
renames the file to ``<name>.replayed`` (``.replayed.2``, ... if taken), so it is replayed
once and kept for inspection. A line that cannot be read is reported with its number and
stays in the renamed file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from callcenter.core.client_json import clean_text
from callcenter.core.events import InteractionEvent
from callcenter.storage.database import json_dumps
from callcenter.storage.dead_letter import as_text

log = logging.getLogger(__name__)

_FIELDS = ("contact_id", "agent_id", "queue", "context_id", "parent_id")


def _line(event: InteractionEvent) -> str:
    record: dict[str, Any] = {"type": event.type, "at": event.at}
    record.update({name: getattr(event, name) for name in _FIELDS})
    try:
        record["data"] = dict(event.data)
        return json_dumps(record)
    except Exception:  # data JSON cannot hold: keep its text, as a dead letter would
        record["data"] = {"unencodable": as_text(event.data)}
        return json_dumps(record)


def write(path: Path, events: Iterable[InteractionEvent]) -> int:
    """Append ``events`` to the spill file at ``path``; return how many. Raises ``OSError``."""
    lines = [_line(e) for e in events]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)
        out.flush()
    return len(lines)


def _event(record: Any) -> InteractionEvent:
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise ValueError("not an event object with a type")
    at = record.get("at")
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise ValueError("at is not a number")
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise ValueError("data is not an object")
    optional = {}
    for name in _FIELDS:
        value = record.get(name)
        optional[name] = clean_text(value) if isinstance(value, str) else None
    return InteractionEvent(type=clean_text(record["type"]), at=float(at), data=data, **optional)


def take(path: Path) -> list[InteractionEvent]:
    """The events of the spill file at ``path`` (none if there is none); the file is renamed
    so that it is not replayed again. Raises ``OSError`` when it cannot be read or renamed."""
    if not path.exists():
        return []
    events: list[InteractionEvent] = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(_event(json.loads(line)))
            except ValueError as exc:
                log.error(
                    "spill file %s line %d cannot be replayed (%s); it stays in the file", path, number, exc
                )
    done = path.with_name(path.name + ".replayed")
    n = 1
    while done.exists():
        n += 1
        done = path.with_name(f"{path.name}.replayed.{n}")
    path.rename(done)
    log.warning(
        "replaying %d events the interaction log could not write before it stopped (%s, now %s)",
        len(events),
        path,
        done.name,
    )
    return events
