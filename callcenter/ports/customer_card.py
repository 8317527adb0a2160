"""What the rest of the center sees of a customer: the card, and the attributes that IVR
branches and ACD priority rules match on.

A ``CustomerCard`` is a frozen snapshot taken at lookup time. It holds the nightly scores
(see ``scores.py``) and the customer's contacts of the last ``repeat_window_days`` so that
"is this a repeat contact?" can be answered for any contact without another query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LookupBy = Literal["caller_number", "email", "account_number", "customer_id"]
Source = Literal["local", "external", "placeholder"]

UNIDENTIFIED_NAME = "Unidentified caller"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecentContact:
    contact_id: str
    arrived_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerCard:
    """One customer as found by a lookup. ``customer_id`` is None only on the placeholder
    for a caller not (yet) identified. Score fields are None until the first score refresh
    (or when an external CRM does not send them)."""

    customer_id: str | None
    name: str
    first_name: str | None = None
    account_number: str | None = None
    language: str | None = None
    tier: str | None = None  # the hand-set tier, else the pyramid level
    segment: str | None = None  # RFM segment (champions, loyal, at_risk ...)
    value_cell: str | None = None  # invest | maintain | develop | harvest
    rfm: str | None = None  # "545"
    clv: float | None = None
    churn_risk: str | None = None  # low | medium | high | unknown
    churn_score: float | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    open_tickets: int = 0
    open_complaint: bool = False
    recent_contacts: tuple[RecentContact, ...] = ()  # newest first, within the repeat window
    source: Source = "local"
    looked_up: tuple[str, str] | None = field(default=None)  # (by, value) that found it

    @property
    def identified(self) -> bool:
        return self.customer_id is not None

    def previous_contact(self, contact_id: str | None = None) -> RecentContact | None:
        """The newest recent contact other than ``contact_id`` (the one being handled)."""
        return next((c for c in self.recent_contacts if c.contact_id != contact_id), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the IVR's lookup node gives it to flows as ``customer.*`` (``id``,
        ``first_name``, ``tier``, ``segment``, ``open_complaint``, ``repeat_contact`` ...)."""
        return {
            "id": self.customer_id,
            "identified": self.identified,
            "name": self.name,
            "first_name": self.first_name,
            "account_number": self.account_number,
            "language": self.language,
            "tier": self.tier,
            "segment": self.segment,
            "value_cell": self.value_cell,
            "rfm": self.rfm,
            "clv": None if self.clv is None else round(self.clv, 2),
            "churn_risk": self.churn_risk,
            "churn_score": None if self.churn_score is None else round(self.churn_score, 3),
            "phones": list(self.phones),
            "emails": list(self.emails),
            "open_tickets": self.open_tickets,
            "open_complaint": self.open_complaint,
            "repeat_contact": self.previous_contact() is not None,  # within the repeat window
            "source": self.source,
        }


def unidentified_card(by: LookupBy | None = None, value: str | None = None) -> CustomerCard:
    """The placeholder shown while the CRM has not answered, or when it knows nobody."""
    looked_up = (by, value) if by is not None and value is not None else None
    return CustomerCard(customer_id=None, name=UNIDENTIFIED_NAME, source="placeholder", looked_up=looked_up)


def contact_attributes(card: CustomerCard, *, contact_id: str | None = None) -> dict[str, str]:
    """The strings IVR branches and ACD ``priority_rules`` (``when: {tier: top}``) match on.

    Keys: ``identified`` (yes/no) always; for an identified customer also ``tier``,
    ``segment``, ``value_cell``, ``churn_risk``, ``language``, ``rfm`` when known, and
    ``repeat_contact`` / ``open_complaint`` (yes/no). ``contact_id`` is the contact being
    handled, left out when deciding whether it repeats an earlier one. Unknown values are
    left out rather than set to a word a rule could match by accident."""
    if not card.identified:
        return {"identified": "no"}
    out = {"identified": "yes"}
    for key in ("tier", "segment", "value_cell", "churn_risk", "language", "rfm"):
        value = getattr(card, key)
        if value:
            out[key] = str(value)
    out["repeat_contact"] = "yes" if card.previous_contact(contact_id) is not None else "no"
    out["open_complaint"] = "yes" if card.open_complaint else "no"
    return out
