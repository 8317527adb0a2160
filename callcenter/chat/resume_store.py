"""``ChatStore`` (``chat/sessions.py``) on the center's database, for a single node: what a
chat's resume needs is kept in ``chat_resume`` (``storage/chat_resume.py``) as the session
changes, so a customer's resume token still works after the server was restarted, even by
a kill -9.

A session found there but not in memory resumes only if restart recovery put its contact
aside for its customer (``resumable``); any other token is refused as ended or expired.
"""

from __future__ import annotations

from collections.abc import Callable

from callcenter.chat.protocol import Start
from callcenter.chat.sessions import MAX_HISTORY, ChatSession, Frame
from callcenter.ports.chat_resume import ChatResume


class DbChatStore:
    def __init__(self, resume: ChatResume, resumable: Callable[[str], bool]) -> None:
        self.resume = resume
        self.resumable = resumable
        self._next: dict[str, int] = {}  # token -> number of its next frame

    def saved(self, session: ChatSession) -> None:
        self._next.setdefault(session.token, 0)
        fields = {
            "name": session.name,
            "email": session.email,
            "phone": session.phone,
            "entry": session.entry,
            "queued": session.queued,
            "rated": session.rated,
            "ended": session.ended,
        }
        self.resume.save(session.token, session.contact_id, fields)

    def frame(self, session: ChatSession, frame: Frame) -> None:
        n = self._next.get(session.token, 0)
        self._next[session.token] = n + 1
        self.resume.add_frame(session.token, n, frame, keep=MAX_HISTORY)

    def forget(self, session: ChatSession) -> None:
        self._next.pop(session.token, None)
        self.resume.forget(session.token)

    async def load(self, token: str) -> ChatSession | None:
        record = await self.resume.load(token)
        if record is None or record.ended or not self.resumable(record.contact_id):
            return None
        start = Start(name=record.name, email=record.email, phone=record.phone, entry=record.entry or None)
        session = ChatSession(record.contact_id, start, token=token)
        session.history = list(record.frames)
        session.rated = record.rated  # before the store is set: nothing to write yet
        self._next[token] = record.next_n
        session.store = self
        return session
