"""OpenAPI 3 description of the CRM routes (``OPENAPI_PATHS`` for ``paths``, and
``OPENAPI_SCHEMAS`` for ``components.schemas``), merged by the app into
``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from callcenter.crm_link.config import LOOKUP_KEYS
from callcenter.crm_link.inputs import TICKET_KINDS, TICKET_STATUSES

_REF = "#/components/schemas/"
_ERROR = {
    "description": "bad input; the body names the field",
    "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}},
}


def _json(ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF + ref}}}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


_CUSTOMER_ID = _path("customer_id", "customer id")
_LIMIT = _query("limit", {"type": "integer", "minimum": 1}, "most rows to return")

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            }
        },
    },
    "CustomerInput": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 128},
            "first_name": {"type": "string", "maxLength": 128},
            "account_number": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"},
            "language": {"type": "string", "example": "he"},
            "tier": {"type": ["string", "null"], "maxLength": 16},
            "phones": {
                "type": "array",
                "items": {"type": "string"},
                "description": "any spelling; stored as E.164",
            },
            "emails": {"type": "array", "items": {"type": "string", "format": "email"}},
        },
    },
    "Customer": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "identified": {"type": "boolean"},
            "name": {"type": "string"},
            "first_name": {"type": ["string", "null"]},
            "account_number": {"type": ["string", "null"]},
            "language": {"type": ["string", "null"]},
            "tier": {"type": ["string", "null"]},
            "segment": {"type": ["string", "null"]},
            "value_cell": {"type": ["string", "null"]},
            "rfm": {"type": ["string", "null"]},
            "clv": {"type": ["number", "null"]},
            "churn_risk": {"type": ["string", "null"]},
            "churn_score": {"type": ["number", "null"]},
            "phones": {"type": "array", "items": {"type": "string"}},
            "emails": {"type": "array", "items": {"type": "string"}},
            "open_tickets": {"type": "integer"},
            "open_complaint": {"type": "boolean"},
            "repeat_contact": {"type": "boolean", "description": "another contact within the repeat window"},
            "source": {"type": "string", "enum": ["local", "external", "placeholder"]},
        },
    },
    "TicketInput": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": list(TICKET_KINDS)},
            "status": {"type": "string", "enum": list(TICKET_STATUSES)},
            "owner": {"type": ["string", "null"]},
            "subject": {"type": "string", "maxLength": 200},
            "due_at": {
                "oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}, {"type": "null"}]
            },
            "contact_ids": {"type": "array", "items": {"type": "string"}},
            "add_contact_id": {"type": "string", "description": "PATCH only: append one contact"},
        },
    },
    "Ticket": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "customer_id": {"type": "string"},
            "kind": {"type": "string"},
            "status": {"type": "string"},
            "owner": {"type": ["string", "null"]},
            "due_at": {"type": ["number", "null"]},
            "subject": {"type": "string"},
            "contact_ids": {"type": "array", "items": {"type": "string"}},
            "created_at": {"type": "number"},
            "updated_at": {"type": "number"},
        },
    },
    "ContactHistory": {
        "type": "object",
        "properties": {
            "contacts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "contact_id": {"type": "string"},
                        "channel": {"type": "string"},
                        "queue": {"type": ["string", "null"]},
                        "agent_id": {"type": ["string", "null"]},
                        "arrived_at": {"type": ["number", "null"]},
                        "ended_at": {"type": ["number", "null"]},
                        "end_reason": {"type": ["string", "null"]},
                        "disposition": {"type": ["string", "null"]},
                        "rating": {"type": ["integer", "null"]},
                        "notes": {"type": "array", "items": {"type": "object"}},
                    },
                },
            }
        },
    },
    "ScreenPop": {
        "type": "object",
        "properties": {
            "contact_id": {"type": "string"},
            "identified": {"type": "boolean"},
            "verified": {
                "type": "boolean",
                "description": "false: the card is a candidate (the caller's number, what a chat "
                "customer typed); confirm the customer's identity before disclosing anything",
            },
            "verified_by": {"type": ["string", "null"], "enum": ["pin", "dob", "token", None]},
            "customer": {"$ref": _REF + "Customer"},
            "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
            "open_tickets": {"type": "array", "items": {"$ref": _REF + "Ticket"}},
            "recent_contacts": {"type": "array", "items": {"type": "object"}},
            "ivr": {"type": ["object", "null"]},
            "repeat": {"type": ["object", "null"]},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/customers": {
        "get": {
            "summary": "Search customers",
            "tags": ["crm"],
            "parameters": [
                _query(
                    "q",
                    {"type": "string"},
                    "phone number, e-mail, account number, customer id or name prefix",
                ),
                _LIMIT,
                _query("offset", {"type": "integer", "minimum": 0}, "rows to skip"),
            ],
            "responses": {"200": {"description": "matching customers"}, "400": _ERROR},
        },
        "post": {
            "summary": "Create a customer",
            "tags": ["crm"],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": _REF + "CustomerInput"}}},
            },
            "responses": {
                "201": _json("Customer", "created"),
                "400": _ERROR,
                "409": {**_ERROR, "description": "account number in use"},
            },
        },
    },
    "/api/v1/customers/{customer_id}": {
        "get": {
            "summary": "A customer's record and card",
            "tags": ["crm"],
            "parameters": [_CUSTOMER_ID],
            "responses": {"200": _json("Customer"), "404": _ERROR},
        },
        "patch": {
            "summary": "Change a customer (phones/emails replace the lists)",
            "tags": ["crm"],
            "parameters": [_CUSTOMER_ID],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": _REF + "CustomerInput"}}},
            },
            "responses": {"200": _json("Customer"), "400": _ERROR, "404": _ERROR, "409": _ERROR},
        },
    },
    "/api/v1/customers/{customer_id}/tickets": {
        "get": {
            "summary": "A customer's tickets, newest first",
            "tags": ["crm"],
            "parameters": [
                _CUSTOMER_ID,
                _query(
                    "status",
                    {"type": "string", "enum": ["open", *TICKET_STATUSES[1:]]},
                    "open = open or pending",
                ),
                _LIMIT,
            ],
            "responses": {"200": {"description": "tickets"}, "400": _ERROR, "404": _ERROR},
        },
        "post": {
            "summary": "Open a ticket",
            "tags": ["crm"],
            "parameters": [_CUSTOMER_ID],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": _REF + "TicketInput"}}},
            },
            "responses": {"201": _json("Ticket", "created"), "400": _ERROR, "404": _ERROR},
        },
    },
    "/api/v1/tickets/{ticket_id}": {
        "patch": {
            "summary": "Change a ticket's status, owner, due date ...",
            "tags": ["crm"],
            "parameters": [_path("ticket_id", "ticket id")],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": _REF + "TicketInput"}}},
            },
            "responses": {"200": _json("Ticket"), "400": _ERROR, "404": _ERROR},
        },
    },
    "/api/v1/customers/{customer_id}/contacts": {
        "get": {
            "summary": "Contact history from the interaction log",
            "tags": ["crm"],
            "parameters": [
                _CUSTOMER_ID,
                _LIMIT,
                _query("before", {"type": "number"}, "only contacts that arrived earlier"),
            ],
            "responses": {"200": _json("ContactHistory"), "400": _ERROR, "404": _ERROR},
        },
    },
    "/api/v1/crm/lookup": {
        "get": {
            "summary": "Find a customer as the IVR and the ACD do",
            "tags": ["crm"],
            "parameters": [
                _query("by", {"type": "string", "enum": list(LOOKUP_KEYS)}, "what value is", True),
                _query("value", {"type": "string"}, "number, address, account or id, any spelling", True),
            ],
            "responses": {
                "200": _json("Customer"),
                "400": _ERROR,
                "404": _ERROR,
                "503": {**_ERROR, "description": "the outside CRM cannot answer"},
            },
        },
    },
    "/api/v1/contacts/{contact_id}/screen-pop": {
        "get": {
            "summary": "The agent's screen pop for a contact",
            "tags": ["crm"],
            "parameters": [
                _path("contact_id", "contact id"),
                _query("customer_id", {"type": "string"}, "default: the customer identified on the contact"),
            ],
            "responses": {"200": _json("ScreenPop")},
        },
    },
}
