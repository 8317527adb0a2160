"""A user's language: "en" unless set; users set their own (PATCH /api/v1/auth/me), an
admin sets anyone's, the config may state it; /api/v1/auth/me answers it, so the desk and
the wallboard open in it. A language without a shipped catalogue is refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from authsupport import Client, demo_config
from msgspec.structs import replace

from callcenter.appkeys import DB, LOG
from callcenter.auth import store
from callcenter.config.loader import load_config
from callcenter.config.sections import UserConfig
from callcenter.core.errors import ConfigError

ME = "/api/v1/auth/me"
USERS = "/api/v1/auth/users"


async def send(client: Client, method: str, path: str, body: Any) -> tuple[int, Any]:
    res = await client.http.request(method, path, json=body, headers=client.headers())
    return res.status, await res.json()


async def my_language(client: Client) -> str:
    res = await client.http.get(ME)
    assert res.status == 200
    language: str = (await res.json())["user"]["language"]
    return language


async def test_a_user_sets_their_own_language_and_it_outlives_a_restart(client: Client) -> None:
    assert (await client.login("alice")).status == 200
    assert await my_language(client) == "en"
    status, body = await send(client, "PATCH", ME, {"language": "zh-CN"})
    assert status == 200 and body["user"]["language"] == "zh-CN" and body["csrf_token"] == client.csrf
    assert await my_language(client) == "zh-CN"
    # the demo config does not state alice's language, so a restart keeps her choice
    await store.seed_users(client.app[DB], demo_config("sqlite+aiosqlite://").users, 0.0)
    assert await my_language(client) == "zh-CN"
    await client.app[LOG].flush()
    changed = [e.data for e in await client.app[LOG].read(limit=500) if e.type == "auth.user_changed"]
    assert changed == [{"username": "alice", "by": "alice", "changes": {"language": "zh-CN"}}]


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ({"language": "fr"}, 400, "language", "shipped: en, zh-CN"),
        ({"language": "x"}, 400, "language", "at least 2"),
        ({"language": 5}, 400, "language", "text"),
        ({"role": "admin"}, 400, "role", ""),
        ({}, 400, "language", "required"),
    ],
)
async def test_bad_language_changes_are_refused_naming_the_field(
    client: Client, body: Any, status: int, field: str, words: str
) -> None:
    assert (await client.login("bob")).status == 200
    got, answer = await send(client, "PATCH", ME, body)
    assert (got, answer["error"]["field"]) == (status, field)
    assert words in answer["error"]["message"]
    assert await my_language(client) == "en"  # nothing changed


async def test_changing_ones_language_needs_a_session_and_the_csrf_token(client: Client) -> None:
    res = await client.http.patch(ME, json={"language": "zh-CN"})
    assert res.status in (401, 403)
    assert (await client.login("carol")).status == 200
    res = await client.http.patch(ME, json={"language": "zh-CN"})  # no X-CSRF-Token
    assert res.status == 403
    assert await my_language(client) == "en"


async def test_an_admin_sets_a_users_language_and_creates_users_with_one(client: Client) -> None:
    assert (await client.login("admin")).status == 200
    status, body = await send(client, "PATCH", USERS + "/dan", {"language": "zh-CN"})
    assert status == 200 and body["user"]["language"] == "zh-CN"
    status, body = await send(client, "PATCH", USERS + "/dan", {"language": "klingon"})
    assert (status, body["error"]["field"]) == (400, "language")
    status, body = await send(
        client, "POST", USERS, {"username": "mei", "password": "long enough", "language": "zh-CN"}
    )
    assert status == 201 and body["user"]["language"] == "zh-CN"
    status, body = await send(client, "POST", USERS, {"username": "zoe", "password": "long enough"})
    assert status == 201 and body["user"]["language"] == "en"
    status, body = await send(
        client, "POST", USERS, {"username": "ann", "password": "long enough", "language": "de"}
    )
    assert (status, body["error"]["field"]) == (400, "language")
    assert (await client.login("mei", "long enough")).status == 200
    assert await my_language(client) == "zh-CN"


async def test_a_language_stated_in_the_config_is_set_at_every_start(client: Client) -> None:
    users = [replace(u, language="zh-CN") if u.username == "sam" else u for u in demo_config().users]
    assert (await client.login("sam")).status == 200
    await send(client, "PATCH", ME, {"language": "en"})
    await store.seed_users(client.app[DB], users, 0.0)  # a restart with sam: language zh-CN
    assert await my_language(client) == "zh-CN"


def test_the_config_refuses_a_language_without_a_catalogue(tmp_path: Any) -> None:
    assert UserConfig(username="li", language="zh-CN").language == "zh-CN"
    path = tmp_path / "callcenter.yaml"
    path.write_text("users:\n  - {username: li, language: fr}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"users\[0\].*no catalogue for language 'fr' \(shipped: en, zh-CN\)"
    ):
        load_config(path)
