"""The admin API for users: only admins, every field checked by name, changes take effect
on live sessions, config-seeded users and admin decisions coexist across restarts."""

from __future__ import annotations

from typing import Any

import pytest
from authsupport import Client, demo_config

from callcenter.appkeys import DB, LOG
from callcenter.auth import store

USERS = "/api/v1/auth/users"


async def as_admin(client: Client) -> None:
    assert (await client.login("admin")).status == 200


async def send(client: Client, method: str, path: str, body: Any) -> tuple[int, Any]:
    res = await client.http.request(method, path, json=body, headers=client.headers())
    return res.status, await res.json()


async def test_only_admins_manage_users(client: Client) -> None:
    assert (await client.http.get(USERS)).status == 401
    await client.login("sam")
    assert (await client.http.get(USERS)).status == 403
    status, _ = await send(client, "POST", USERS, {"username": "zed", "password": "long enough"})
    assert status == 403
    await as_admin(client)
    listed = await (await client.http.get(USERS)).json()
    alice = next(u for u in listed["users"] if u["username"] == "alice")
    assert alice["role"] == "agent" and alice["managed_by"] == "config" and not alice["disabled"]
    assert all("password" not in key for u in listed["users"] for key in u)


async def test_admin_posts_need_the_csrf_token(client: Client) -> None:
    await as_admin(client)
    res = await client.http.post(USERS, json={"username": "zed", "password": "long enough"})
    assert res.status == 403 and (await res.json())["error"]["field"] == "X-CSRF-Token"
    assert (await client.http.get(USERS + "/zed")).status == 404


async def test_create_a_user_who_then_logs_in(client: Client) -> None:
    await as_admin(client)
    status, body = await send(
        client,
        "POST",
        USERS,
        {"username": "zed", "password": "long enough", "name": "Zed Zero", "skills": {"banking": 2}},
    )
    assert status == 201
    assert body["user"] | {"created_at": 0} == {
        "username": "zed",
        "name": "Zed Zero",
        "role": "agent",
        "skills": {"banking": 2},
        "chat_capacity": 3,
        "disabled": False,
        "disabled_by": None,
        "managed_by": "api",
        "created_at": 0,
        "language": "en",
    }
    status, body = await send(client, "POST", USERS, {"username": "zed", "password": "other one"})
    assert (status, body["error"]["field"]) == (409, "username")
    assert (await client.login("zed", "long enough")).status == 200
    await client.app[LOG].flush()
    created = [e for e in await client.app[LOG].read() if e.type == "auth.user_created"]
    assert [e.data for e in created] == [{"username": "zed", "by": "admin", "role": "agent"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "long enough"}, "username"),
        ({"username": "bad name!", "password": "long enough"}, "username"),
        ({"username": "zed"}, "password"),
        ({"username": "zed", "password": "short"}, "password"),
        ({"username": "zed", "password": "long enough", "role": "boss"}, "role"),
        ({"username": "zed", "password": "long enough", "skills": {"juggling": 3}}, "skills"),
        ({"username": "zed", "password": "long enough", "skills": {"banking": 9}}, "skills"),
        ({"username": "zed", "password": "long enough", "chat_capacity": -1}, "chat_capacity"),
        ({"username": "zed", "password": "long enough", "name": ""}, "name"),
        ([], "body"),
    ],
)
async def test_bad_new_users_are_refused_naming_the_field(client: Client, body: Any, field: str) -> None:
    await as_admin(client)
    status, answer = await send(client, "POST", USERS, body)
    assert status == 400 and answer["error"]["field"] == field
    assert (await client.http.get(USERS + "/zed")).status == 404  # nothing was written


async def test_oversize_bodies_are_refused(client: Client) -> None:
    await as_admin(client)
    status, answer = await send(client, "POST", USERS, {"username": "zed", "password": "p" * 20_000})
    assert status == 413 and answer["error"]["field"] == "body"


async def test_role_change_applies_to_a_live_session(client: Client) -> None:
    async with client.browser() as carol:
        assert (await carol.post("/api/v1/auth/login", json={"username": "carol", "password": "carol"})).ok
        await as_admin(client)
        status, body = await send(client, "PATCH", USERS + "/carol", {"role": "supervisor"})
        assert status == 200 and body["user"]["role"] == "supervisor"
        me = await carol.get("/api/v1/auth/me")
        assert (await me.json())["user"]["role"] == "supervisor"


async def test_disabling_ends_sessions_and_survives_a_restart(client: Client) -> None:
    async with client.browser() as dan:
        assert (await dan.post("/api/v1/auth/login", json={"username": "dan", "password": "dan"})).ok
        await as_admin(client)
        status, body = await send(client, "PATCH", USERS + "/dan", {"disabled": True})
        assert status == 200 and body["user"]["disabled_by"] == "admin"
        assert (await dan.get("/api/v1/auth/me")).status == 401
    assert (await client.login("dan")).status == 401
    await store.seed_users(client.app[DB], demo_config("sqlite+aiosqlite://").users, 0.0)  # a restart
    assert (await client.login("dan")).status == 401  # the admin's decision stands
    await as_admin(client)
    await send(client, "PATCH", USERS + "/dan", {"disabled": False})
    assert (await client.login("dan")).status == 200


async def test_api_users_are_left_alone_by_seeding(client: Client) -> None:
    await as_admin(client)
    await send(client, "POST", USERS, {"username": "zed", "password": "long enough"})
    await store.seed_users(client.app[DB], demo_config("sqlite+aiosqlite://").users, 0.0)
    assert (await client.login("zed", "long enough")).status == 200


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"disabled": True}, 409, "disabled"),
        ({"role": "agent"}, 409, "role"),
        ({"colour": "red"}, 400, "colour"),
        ({}, 400, "body"),
        ({"disabled": "yes"}, 400, "disabled"),
    ],
)
async def test_bad_changes_are_refused(client: Client, body: Any, status: int, field: str) -> None:
    await as_admin(client)
    got, answer = await send(client, "PATCH", USERS + "/admin", body)
    assert (got, answer["error"]["field"]) == (status, field)
    assert (await client.http.get("/api/v1/auth/me")).status == 200  # still an admin, still in


async def test_reset_password_ends_sessions_and_sets_the_new_one(client: Client) -> None:
    await as_admin(client)
    status, body = await send(client, "PUT", USERS + "/nobody/password", {"password": "long enough"})
    assert (status, body["error"]["field"]) == (404, "username")
    status, body = await send(client, "PUT", USERS + "/admin/password", {"password": "brand new pw"})
    assert status == 200
    assert (await client.http.get("/api/v1/auth/me")).status == 401  # their own session too
    assert (await client.login("admin", "admin")).status == 401
    assert (await client.login("admin", "brand new pw")).status == 200
