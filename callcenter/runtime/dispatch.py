"""Route an engine's commands to the adapters that carry them out, by command type."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class CommandRouter:
    """``register(RecordEvent, log_handler)``; then pass the router as a driver's dispatch.

    Handlers run synchronously in the driver's task and must not block: anything slow is
    started as its own task by the handler. An unregistered command is logged once per type.
    """

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}
        self._warned: set[type] = set()

    def register(self, command_type: type, handler: Handler) -> None:
        self._handlers.setdefault(command_type, []).append(handler)

    def __call__(self, commands: Sequence[Any]) -> None:
        for command in commands:
            handlers = self._handlers.get(type(command))
            if not handlers:
                if type(command) not in self._warned:
                    self._warned.add(type(command))
                    log.warning("no handler for command %s", type(command).__name__)
                continue
            for handler in handlers:
                try:
                    handler(command)
                except Exception:
                    log.exception("handler for %s failed", type(command).__name__)
