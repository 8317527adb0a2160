"""The auth and user-admin REST bodies as msgspec types (requests forbid unknown fields;
their limits are ``Meta`` constraints, so the OpenAPI document states them). Checks that
need the config or the database (known skills, taken names, demoting oneself) stay in
``users.py``."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

Role = Literal["agent", "supervisor", "admin"]
Username = Annotated[
    str, Meta(pattern=r"^[a-zA-Z0-9_.-]{1,64}$", description="1-64 letters, digits, '.', '_' or '-'")
]
Password = Annotated[str, Meta(min_length=8, max_length=1024, description="8 to 1024 characters")]
DisplayName = Annotated[str, Meta(min_length=1, max_length=128)]
Skills = Annotated[
    dict[str, Annotated[int, Meta(ge=1, le=5)]],
    Meta(description='skill levels from 1 to 5, like {"banking": 3}; skills the config names'),
]
Capacity = Annotated[int, Meta(ge=0, le=20, description="chats at once")]
Language = Annotated[
    str, Meta(min_length=2, max_length=16, description="a shipped catalogue's code, like en or zh-CN")
]


# Requests ----------------------------------------------------------------------------


class LoginIn(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, Meta(min_length=1)]
    password: Annotated[str, Meta(min_length=1)]


class NewUser(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    username: Username
    password: Password
    role: Role = "agent"
    name: DisplayName | UnsetType = UNSET  # default: the username
    skills: Skills = {}
    chat_capacity: Capacity = 3
    language: Language = "en"


class UserChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Any of these; ``disabled: true`` ends the user's sessions at once."""

    role: Role | UnsetType = UNSET
    name: DisplayName | UnsetType = UNSET
    skills: Skills | UnsetType = UNSET
    chat_capacity: Capacity | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET
    language: Language | UnsetType = UNSET


class NewPassword(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    password: Password


class MyChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What users may change of themselves."""

    language: Language


# Responses ---------------------------------------------------------------------------


class Me(Struct, frozen=True, kw_only=True):
    username: str
    name: str
    role: Role
    language: Annotated[str, Meta(description="the language of their pages (docs/i18n.md)")]


class Session(Struct, frozen=True, kw_only=True):
    """Who is logged in, and the token to send in ``X-CSRF-Token`` with every change."""

    user: Me
    csrf_token: str


class Ok(Struct, frozen=True, kw_only=True):
    ok: bool = True


class User(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    username: str
    name: str
    role: Role
    skills: dict[str, int]
    chat_capacity: int
    disabled: bool
    disabled_by: str | None
    managed_by: Annotated[str, Meta(description="config (the config file wins at start) or api")]
    created_at: float
    language: str


class OneUser(Struct, frozen=True, kw_only=True):
    user: User


class UserList(Struct, frozen=True, kw_only=True):
    users: list[User]
