"""Login, the session cookie, expiry, CSRF, roles and ownership over real HTTP and
WebSocket against the real app (SQLite; one flow on PostgreSQL)."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest
from authsupport import Client
from sqlalchemy import select

from callcenter.appkeys import DB, LOG
from callcenter.auth import store
from callcenter.auth.schema import sessions
from callcenter.auth.web import COOKIE


async def logged_types(client: Client) -> list[str]:
    log = client.app[LOG]
    await log.flush()
    return [e.type for e in await log.read() if e.type.startswith("auth.")]


async def test_login_sets_a_strict_httponly_cookie_and_me_answers(client: Client) -> None:
    res = await client.login("alice")
    assert res.status == 200
    body = await res.json()
    assert body["user"] == {"username": "alice", "name": "Alice Cohen", "role": "agent", "language": "en"}
    cookie = res.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain HTTP here: a Secure cookie would never come back
    assert int(cookie["max-age"]) == int(store.MAX_S)
    me = await client.http.get("/api/v1/auth/me")
    assert me.status == 200
    assert await me.json() == {"user": body["user"], "csrf_token": body["csrf_token"]}
    assert await logged_types(client) == ["auth.login"]


async def test_cookie_is_secure_behind_an_https_proxy(client: Client) -> None:
    res = await client.http.post(
        "/api/v1/auth/login",
        json={"username": "sam", "password": "sam"},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert res.status == 200 and res.cookies[COOKIE]["secure"]


async def test_only_the_token_digest_is_stored(client: Client) -> None:
    res = await client.login("alice")
    token = res.cookies[COOKIE].value
    assert len(token) >= 43  # 32 random bytes, base64url
    async with client.app[DB].connect() as conn:
        rows = (await conn.execute(select(sessions))).all()
    assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(value) for r in rows for value in r)


async def test_wrong_password_and_unknown_user_look_the_same(client: Client) -> None:
    a = await client.login("alice", "nope")
    b = await client.login("nobody", "nope")
    assert a.status == b.status == 401
    assert (
        await a.json()
        == await b.json()
        == {"error": {"status": 401, "message": "wrong username or password"}}
    )
    assert COOKIE not in a.cookies
    assert (await client.http.get("/api/v1/auth/me")).status == 401
    assert await logged_types(client) == ["auth.login_failed", "auth.login_failed"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "alice"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": 5, "password": "x"}, "username"),
        ({"username": "alice", "password": ""}, "password"),
    ],
)
async def test_incomplete_login_names_the_field(client: Client, body: dict[str, object], field: str) -> None:
    res = await client.http.post("/api/v1/auth/login", json=body)
    assert res.status == 400
    error = (await res.json())["error"]
    assert error["field"] == field and field in error["message"]


@pytest.mark.parametrize(
    ("data", "status"),
    [("{not json", 400), ("[1, 2]", 400), ("\xff\xfe", 400), ('{"username": "' + "a" * 5000 + '"}', 413)],
)
async def test_malformed_or_oversize_login_is_refused_and_nothing_else_changes(
    client: Client, data: str, status: int
) -> None:
    res = await client.http.post(
        "/api/v1/auth/login", data=data.encode("latin-1"), headers={"Content-Type": "application/json"}
    )
    assert res.status == status and (await res.json())["error"]["field"] == "body"
    assert (await client.login("alice")).status == 200  # not counted as a failed login


async def test_posts_need_the_csrf_token_and_logout_ends_the_session(client: Client) -> None:
    token = (await client.login("alice")).cookies[COOKIE].value
    refused = await client.http.post("/api/v1/auth/logout")
    assert refused.status == 403 and (await refused.json())["error"]["field"] == "X-CSRF-Token"
    wrong = await client.http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": client.csrf[:-1] + "x"})
    assert wrong.status == 403
    cross = await client.http.post(
        "/api/v1/auth/logout", headers={**client.headers(), "Origin": "http://evil.example"}
    )
    assert cross.status == 403 and (await cross.json())["error"]["field"] == "Origin"
    assert (await client.http.get("/api/v1/auth/me")).status == 200  # the refusals changed nothing
    ok = await client.http.post("/api/v1/auth/logout", headers=client.headers())
    assert ok.status == 200 and (await client.http.get("/api/v1/auth/me")).status == 401
    replay = await client.http.get("/api/v1/auth/me", cookies={COOKIE: token})  # a copied cookie
    assert replay.status == 401
    assert await logged_types(client) == ["auth.login", "auth.logout"]


async def test_same_origin_post_with_token_passes(client: Client) -> None:
    await client.login("alice")
    origin = str(client.http.make_url("/")).rstrip("/")
    res = await client.http.post("/api/v1/auth/logout", headers={**client.headers(), "Origin": origin})
    assert res.status == 200


def other_origins(own: str) -> list[str]:
    """Origins that differ from ``own`` (``http://127.0.0.1:PORT``) in one part each."""
    host, port = own.removeprefix("http://").rsplit(":", 1)
    return [
        f"https://{host}:{port}",  # the scheme only: refused although host and port match
        f"http://{host}:{int(port) + 1}",
        f"http://localhost:{port}",
        f"http://{host}",  # port 80
        f"http://user@{host}:{port}",
        f"{own}/path",
        "null",
        "not a url",
    ]


async def test_the_origin_check_compares_scheme_host_and_port(client: Client) -> None:
    await client.login("alice")
    own = str(client.http.make_url("/")).rstrip("/")
    for origin in other_origins(own):
        res = await client.http.post("/api/v1/test/act/alice", headers={**client.headers(), "Origin": origin})
        assert res.status == 403 and (await res.json())["error"]["field"] == "Origin", origin
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.http.ws_connect("/ws/test", origin=origin)
        assert refused.value.status == 403, origin
    upper = own.replace("http://", "HTTP://")  # the same origin, spelt otherwise
    assert (
        await client.http.post("/api/v1/test/act/alice", headers={**client.headers(), "Origin": upper})
    ).status == 200
    ws = await client.http.ws_connect("/ws/test", origin=own)
    await ws.send_str("hi")
    assert await ws.receive_json() == {"user": "alice"}
    await ws.close()


async def test_behind_a_tls_proxy_the_https_origin_is_ours(client: Client) -> None:
    """A proxy that ends TLS says so in X-Forwarded-Proto (docs/auth.md): then the https
    origin is ours and the http one is not."""
    await client.login("alice")
    own = str(client.http.make_url("/")).rstrip("/")
    https = own.replace("http://", "https://")
    proxied = {**client.headers(), "X-Forwarded-Proto": "https"}
    passed = await client.http.post("/api/v1/test/act/alice", headers={**proxied, "Origin": https})
    assert passed.status == 200
    refused = await client.http.post("/api/v1/test/act/alice", headers={**proxied, "Origin": own})
    assert refused.status == 403
    ws = await client.http.ws_connect("/ws/test", origin=https, headers={"X-Forwarded-Proto": "https"})
    await ws.close()


async def test_sessions_expire_when_idle(client: Client) -> None:
    await client.login("alice")
    client.clock.advance(store.IDLE_S - 10)
    assert (await client.http.get("/api/v1/auth/me")).status == 200  # used: the idle timer restarts
    client.clock.advance(100)  # past IDLE_S since login, not since last use
    assert (await client.http.get("/api/v1/auth/me")).status == 200
    client.clock.advance(store.IDLE_S + 1)
    res = await client.http.get("/api/v1/auth/me")
    assert res.status == 401 and "expired" in (await res.json())["error"]["message"]


async def test_sessions_end_at_their_absolute_lifetime_even_when_busy(client: Client) -> None:
    await client.login("alice")
    for _ in range(int(store.MAX_S // 3600)):
        assert (await client.http.get("/api/v1/auth/me")).status == 200
        client.clock.advance(3600)
    client.clock.advance(1)
    assert (await client.http.get("/api/v1/auth/me")).status == 401


async def test_login_page_posts_the_form_and_follows_next(client: Client) -> None:
    page = await client.http.get("/login?next=/wallboard")
    html = await page.text()
    assert page.status == 200 and 'name="username"' in html and 'type="password"' in html
    script = await client.http.get("/static/auth/login.js")
    js = await script.text()
    assert script.status == 200 and "/api/v1/auth/login" in js and '"next"' in js


async def test_roles_are_checked_on_routes(client: Client) -> None:
    assert (await client.http.get("/api/v1/test/supervisors")).status == 401
    await client.login("alice")
    refused = await client.http.get("/api/v1/test/supervisors")
    assert refused.status == 403
    assert (await refused.json())["error"] == {
        "status": 403,
        "message": "this needs the supervisor role; you are agent",
        "field": "role",
    }
    assert (await client.http.get("/api/v1/auth/users")).status == 403  # an admin route
    await client.login("sam")
    assert await (await client.http.get("/api/v1/test/supervisors")).json() == {"hello": "sam"}
    await client.login("admin")
    assert (await client.http.get("/api/v1/test/supervisors")).status == 200  # admin holds every role


async def test_agents_act_only_on_their_own_work(client: Client) -> None:
    await client.login("alice")
    own = await client.http.post("/api/v1/test/act/alice", headers=client.headers())
    assert own.status == 200
    other = await client.http.post("/api/v1/test/act/bob?on_behalf", headers=client.headers())
    assert other.status == 403
    assert (await other.json())["error"] == {
        "status": 403,
        "message": "that is agent bob's, not yours (you are alice)",
        "field": "agent_id",
    }
    await client.login("sam")
    not_asked = await client.http.post("/api/v1/test/act/bob", headers=client.headers())
    assert (await not_asked.json())["error"]["message"] == "that is agent bob's, not yours (you are sam)"
    on_behalf = await client.http.post("/api/v1/test/act/bob?on_behalf", headers=client.headers())
    assert await on_behalf.json() == {"done_by": "sam"}


async def test_websocket_upgrade_and_messages_check_the_session(client: Client) -> None:
    anonymous = await client.http.ws_connect("/ws/test")
    assert (await anonymous.receive()).type == aiohttp.WSMsgType.CLOSE and anonymous.close_code == 4401
    await client.login("alice")
    ws = await client.http.ws_connect("/ws/test", origin=str(client.http.make_url("/")).rstrip("/"))
    await ws.send_str("hi")
    assert await ws.receive_json() == {"user": "alice"}
    async with client.app[DB].begin() as conn:  # logged out elsewhere (another tab)
        await conn.execute(sessions.update().values(revoked=True))
    await ws.send_str("still there?")
    assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.http.ws_connect("/ws/test", origin="http://evil.example")
    assert refused.value.status == 403
    await client.login("sam")
    supervisor = await client.http.ws_connect("/ws/test")
    assert (await supervisor.receive()).type == aiohttp.WSMsgType.CLOSE and supervisor.close_code == 4403


@pytest.mark.postgres
async def test_login_flow_on_postgres(pg_client: Client) -> None:
    c = pg_client
    assert (await c.login("bob", "wrong")).status == 401
    assert (await c.login("bob")).status == 200
    assert (await (await c.http.get("/api/v1/auth/me")).json())["user"]["username"] == "bob"
    c.clock.advance(store.TOUCH_EVERY_S + 1)
    assert (await c.http.get("/api/v1/auth/me")).status == 200  # last_seen written
    assert (await c.http.post("/api/v1/auth/logout")).status == 403
    assert (await c.http.post("/api/v1/auth/logout", headers=c.headers())).status == 200
    assert (await c.http.get("/api/v1/auth/me")).status == 401
