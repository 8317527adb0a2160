"""Errors shared across the server. Each names what was wrong and where."""

from __future__ import annotations


class CallcenterError(Exception):
    """Base for errors the server reports to a user or client instead of crashing."""


class EngineError(CallcenterError):
    """An engine refused an input; its state is unchanged. ``code`` is stable for clients."""

    code = "rejected"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigError(CallcenterError):
    """A configuration file is wrong; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
