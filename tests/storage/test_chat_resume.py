"""The chat resume store on SQLite and PostgreSQL: a session's details and frames come back
by token (stored as its SHA-256 only), the last frames are kept when there are many, text
UTF-8 cannot carry does not stop the writer, and a restart's ``hold`` keeps the records of
the chats it holds (since the first restart) and deletes the rest."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.storage import database, migrate
from callcenter.storage.chat_resume import SqlChatResume, token_sha256
from callcenter.storage.schema import chat_resume


async def _roundtrip(url: str) -> None:
    engine = database.create_engine(url)
    await migrate.upgrade(engine)
    store = SqlChatResume(engine, lambda: 100.0)
    store.start()
    try:
        store.save("tok-a", "a", {"name": "Dana\ud800", "email": "dana@example.com", "queued": True})
        for n in range(1205):
            store.add_frame(
                "tok-a", n, {"type": "message", "from": "customer", "text": f"line {n}"}, keep=1000
            )
        store.save("tok-b", "b", {"phone": "+15550100"})
        store.save("tok-c", "c", {})
        await store.flushed()
        a = await store.load("tok-a")
        assert a is not None and (a.contact_id, a.name, a.email, a.queued) == (
            "a",
            "Dana\ufffd",
            "dana@example.com",
            True,
        )
        assert len(a.frames) >= 1000 and a.frames[-1]["text"] == "line 1204" and a.next_n == 1205
        assert await store.load("tok-unknown") is None
        async with engine.connect() as conn:
            digests = set((await conn.execute(select(chat_resume.c.token_sha256))).scalars())
        assert digests == {token_sha256(t) for t in ("tok-a", "tok-b", "tok-c")}  # never the token

        assert await store.hold({"a", "b", "gone"}, 200.0) == {"a": 200.0, "b": 200.0}
        assert await store.load("tok-c") is None  # not held: its chat is over
        assert await store.hold({"a"}, 300.0) == {"a": 200.0}  # held since the first restart
        store.forget_contact("a")
        await store.flushed()
        assert await store.load("tok-a") is None
    finally:
        await store.stop()
        await engine.dispose()


async def test_chat_resume_on_sqlite(sqlite_url: str) -> None:
    await _roundtrip(sqlite_url)


@pytest.mark.postgres
async def test_chat_resume_on_postgres(pg_url: str) -> None:
    await _roundtrip(pg_url)
