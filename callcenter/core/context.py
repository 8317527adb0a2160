"""Causal context: every event carries its own id and its parent's, so that one contact's
path (IVR -> queue -> offer -> agent -> survey) can be followed as one chain in the log."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.core.ids import IdGenerator


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    id: str
    parent_id: str | None = None

    @classmethod
    def root(cls, ids: IdGenerator) -> Context:
        return cls(id=ids.new("context"))

    def child(self, ids: IdGenerator) -> Context:
        return Context(id=ids.new("context"), parent_id=self.id)
