"""The ACD's refusals: every one is an ``AcdError`` with a stable ``code``; the engine's state
is unchanged when one is raised.
"""

from __future__ import annotations

from callcenter.core.errors import EngineError


class AcdError(EngineError):
    code = "acd_error"


class UnknownAgent(AcdError):
    code = "unknown_agent"


class UnknownQueue(AcdError):
    code = "unknown_queue"


class UnknownSkill(AcdError):
    code = "unknown_skill"


class UnknownContact(AcdError):
    code = "unknown_contact"


class ContactEndedAlready(AcdError):
    code = "contact_ended"


class DuplicateContact(AcdError):
    code = "duplicate_contact"


class DuplicateLogin(AcdError):
    code = "duplicate_login"


class IllegalTransition(AcdError):
    code = "illegal_transition"


class UnknownOffer(AcdError):
    code = "unknown_offer"


class NotYours(AcdError):
    code = "not_yours"


class BadInput(AcdError):
    code = "bad_input"
