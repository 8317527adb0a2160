"""Password hashing, the hash-password helper, and seeding users from the config."""

from __future__ import annotations

import base64
import io

from authsupport import Client, demo_config
from msgspec.structs import replace
from sqlalchemy import select, update

from callcenter.appkeys import DB
from callcenter.auth import store
from callcenter.auth.cli import hash_password_command
from callcenter.auth.passwords import hash_password, needs_rehash, verify_password
from callcenter.auth.schema import users
from callcenter.config.sections import UserConfig


def test_passwords_hash_with_scrypt_and_verify() -> None:
    encoded = hash_password("s3cret")
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1") and "s3cret" not in encoded
    assert len(base64.b64decode(salt + "==")) == 16 and len(base64.b64decode(digest + "==")) == 32
    assert verify_password("s3cret", encoded) and not verify_password("S3cret", encoded)
    assert encoded != hash_password("s3cret")  # a fresh salt each time
    assert not verify_password("x", "garbage") and not verify_password("x", "scrypt$1$2$3$$")


def test_parameters_are_read_from_the_hash_and_weaker_ones_need_a_rehash() -> None:
    weak = hash_password("pw", n=2**10)
    assert weak.startswith("scrypt$1024$8$1$") and verify_password("pw", weak)
    assert needs_rehash(weak) and not needs_rehash(hash_password("pw"))
    assert needs_rehash(hash_password("pw", n=2**14, r=4)) and needs_rehash("md5$abc")
    assert not needs_rehash(hash_password("pw", n=2**15))  # stronger than today's is kept


def test_hash_password_helper_reads_stdin_and_prints_a_hash() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert hash_password_command(io.StringIO("correct horse\n"), out, err) == 0
    printed = out.getvalue().strip()
    assert verify_password("correct horse", printed) and err.getvalue() == ""
    out = io.StringIO()
    assert hash_password_command(io.StringIO(""), out, err) == 1
    assert out.getvalue() == "" and "empty password" in err.getvalue()


async def stored(client: Client, username: str) -> tuple[str, bool, str | None, str]:
    async with client.app[DB].connect() as conn:
        row = (await conn.execute(select(users).where(users.c.username == username))).one()
    return row.password_hash, row.disabled, row.disabled_by, row.role


async def test_a_weak_stored_hash_is_upgraded_at_login(client: Client) -> None:
    async with client.app[DB].begin() as conn:
        await conn.execute(
            update(users)
            .where(users.c.username == "alice")
            .values(password_hash=hash_password("alice", n=2**10))
        )
    assert (await client.login("alice")).status == 200
    upgraded = (await stored(client, "alice"))[0]
    assert upgraded.startswith("scrypt$16384$") and verify_password("alice", upgraded)
    assert (await client.login("alice")).status == 200


async def test_seeding_is_idempotent_and_hashes_plain_passwords(client: Client) -> None:
    config = demo_config("sqlite+aiosqlite://")
    before = (await stored(client, "alice"))[0]
    assert before.startswith("scrypt$") and "alice" not in before.split("$", 4)[4]
    await store.seed_users(client.app[DB], config.users, 0.0)
    assert (await stored(client, "alice"))[0] == before  # not re-hashed when unchanged
    async with client.app[DB].connect() as conn:
        assert len((await conn.execute(select(users))).all()) == len(config.users)


async def test_seeding_updates_name_role_skills_and_password(client: Client) -> None:
    config = demo_config("sqlite+aiosqlite://")
    changed = [
        replace(u, name="Robert", role="supervisor", skills={"banking": 5}, password="new-pass")
        if u.username == "bob"
        else u
        for u in config.users
    ]
    await store.seed_users(client.app[DB], changed, 0.0)
    assert (await client.login("bob", "bob")).status == 401
    res = await client.login("bob", "new-pass")
    assert (await res.json())["user"] == {
        "username": "bob",
        "name": "Robert",
        "role": "supervisor",
        "language": "en",
    }
    pinned = hash_password("from-hash")
    await store.seed_users(
        client.app[DB], [*config.users, UserConfig(username="eve", password_hash=pinned)], 0.0
    )
    assert (await stored(client, "eve"))[0] == pinned
    assert (await client.login("eve", "from-hash")).status == 200


async def test_a_user_removed_from_config_is_disabled_and_back_when_listed(client: Client) -> None:
    config = demo_config("sqlite+aiosqlite://")
    await client.login("bob")
    assert (await client.http.get("/api/v1/auth/me")).status == 200
    await store.seed_users(client.app[DB], [u for u in config.users if u.username != "bob"], 0.0)
    assert (await stored(client, "bob"))[1:3] == (True, "config")  # kept, not deleted
    assert (await client.http.get("/api/v1/auth/me")).status == 401  # their session ended
    assert (await client.login("bob")).status == 401
    await store.seed_users(client.app[DB], config.users, 0.0)
    assert (await client.login("bob")).status == 200


async def test_a_user_without_password_cannot_log_in(client: Client) -> None:
    config = demo_config("sqlite+aiosqlite://")
    await store.seed_users(client.app[DB], [*config.users, UserConfig(username="nopw")], 0.0)
    assert (await stored(client, "nopw"))[0].startswith("!")  # matches no password at all
    assert (await client.login("nopw")).status == 401
    assert (await client.login("nopw", "!")).status == 401
