"""Login, sessions, CSRF, roles and throttling over real HTTP against the real app."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.app import create_app
from callcenter.appkeys import DB
from callcenter.auth import store
from callcenter.auth.passwords import hash_password, needs_rehash, verify_password
from callcenter.auth.web import COOKIE
from callcenter.config.loader import load_config
from callcenter.core.clock import VirtualClock

ROOT = Path(__file__).resolve().parents[2]


def test_passwords_hash_with_scrypt_and_verify() -> None:
    encoded = hash_password("s3cret")
    assert encoded.startswith("scrypt$16384$8$1$") and "s3cret" not in encoded
    assert verify_password("s3cret", encoded) and not verify_password("S3cret", encoded)
    assert encoded != hash_password("s3cret")  # salted
    assert not verify_password("x", "garbage") and not verify_password("x", "scrypt$1$2$3$$")
    assert needs_rehash(hash_password("x", n=2**10)) and not needs_rehash(encoded)


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = load_config(ROOT / "config" / "callcenter.yaml")
    config = replace(config, storage=replace(config.storage, url=f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"))
    clock = VirtualClock(start=1_800_000_000.0)
    app = create_app(config, clock=clock)
    c = await aiohttp_client(app)
    c.clock = clock
    return c


async def login(client, username: str = "alice", password: str = "alice"):  # type: ignore[no-untyped-def]
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def test_login_sets_a_strict_httponly_cookie_and_me_answers(client) -> None:  # type: ignore[no-untyped-def]
    res = await login(client)
    assert res.status == 200
    body = await res.json()
    assert body["user"] == {"username": "alice", "name": "Alice Cohen", "role": "agent"}
    cookie = res.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    me = await client.get("/api/v1/auth/me")
    assert (await me.json())["csrf_token"] == body["csrf_token"]


async def test_wrong_password_and_unknown_user_look_the_same(client) -> None:  # type: ignore[no-untyped-def]
    a = await login(client, "alice", "nope")
    b = await login(client, "nobody", "nope")
    assert a.status == b.status == 401
    assert (await a.json()) == (await b.json()) == {"error": {"status": 401, "message": "wrong username or password"}}
    assert (await client.get("/api/v1/auth/me")).status == 401


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "alice"}, "password"), ({"password": "x"}, "username"), ({"username": 5, "password": "x"}, "username")])
async def test_malformed_login_names_the_field(client, body: dict, field: str) -> None:  # type: ignore[no-untyped-def,type-arg]
    res = await client.post("/api/v1/auth/login", json=body)
    assert res.status == 400 and (await res.json())["error"]["field"] == field
    res = await client.post("/api/v1/auth/login", data="{not json", headers={"Content-Type": "application/json"})
    assert res.status == 400


async def test_posts_need_the_csrf_token_and_logout_ends_the_session(client) -> None:  # type: ignore[no-untyped-def]
    csrf = (await (await login(client)).json())["csrf_token"]
    refused = await client.post("/api/v1/auth/logout")
    assert refused.status == 403 and (await refused.json())["error"]["field"] == "X-CSRF-Token"
    wrong = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "guess"})
    assert wrong.status == 403
    cross = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert cross.status == 403
    assert (await client.get("/api/v1/auth/me")).status == 200
    ok = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert ok.status == 200 and (await client.get("/api/v1/auth/me")).status == 401


async def test_sessions_expire_when_idle(client) -> None:  # type: ignore[no-untyped-def]
    await login(client)
    client.clock.advance(store.IDLE_S - 10)
    assert (await client.get("/api/v1/auth/me")).status == 200  # used: the idle timer restarts
    client.clock.advance(store.IDLE_S + 1)
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_repeated_failures_are_slowed_down_then_allowed_again(client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert (await login(client, "bob", "guess")).status == 401
    slowed = await login(client, "bob", "bob")  # even the right password must wait now
    assert slowed.status == 429 and slowed.headers["Retry-After"] == "1"
    client.clock.advance(1.0)
    assert (await login(client, "bob", "bob")).status == 200


async def test_users_are_seeded_from_config_and_removed_ones_disabled(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = client.server.app
    config = load_config(ROOT / "config" / "callcenter.yaml")
    await store.seed_users(app[DB], [u for u in config.users if u.username != "bob"], 0.0)
    assert (await login(client, "bob", "bob")).status == 401
    await store.seed_users(app[DB], config.users, 0.0)  # idempotent, and bob is back
    assert (await login(client, "bob", "bob")).status == 200
