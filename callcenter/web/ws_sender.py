"""Ordered, bounded delivery of typed frames to one WebSocket (``core/ws_frames.py``:
each is encoded by msgspec and sent as a JSON text frame).

Each socket gets one writer task draining a queue, so frames arrive in the order they
were sent even when the socket applies backpressure. A socket that falls 1,000 frames
behind is closed (code 1013): its client reconnects and resumes from a fresh snapshot,
rather than the server buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web

from callcenter.core.frame_rate import CLOSE_FLOODING, FrameRate, Verdict, rate_limited_frame
from callcenter.core.ws_frames import ServerFrame, encode_frame


async def send_now(ws: web.WebSocketResponse, frame: ServerFrame) -> None:
    """Send one frame straight away (before a socket has its ``WsSender``)."""
    await ws.send_frame(encode_frame(frame), WSMsgType.TEXT)


class WsSender:
    """One desk socket with its own ordered outgoing queue and writer task."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[ServerFrame | None] = asyncio.Queue(maxsize=1000)
        self.task = asyncio.create_task(self._write(), name="desk-writer")

    def send(self, frame: ServerFrame) -> None:
        if self.ws.closed:
            return
        if self.queue.full():  # a desk this far behind is broken; it will resume on reconnect
            self.task.cancel()
            closing = asyncio.ensure_future(self.ws.close(code=1013, message=b"too far behind"))
            closing.add_done_callback(_quiet)
            return
        self.queue.put_nowait(frame)

    async def admit(self, rate: FrameRate) -> bool:
        """Count one frame the client sent against ``rate``: True to handle it. A frame over
        the rate is answered with a ``rate_limited`` error frame and dropped (False); a
        client flooding far beyond it is closed with ``CLOSE_FLOODING`` (False)."""
        verdict = rate.frame(asyncio.get_running_loop().time())
        if verdict is Verdict.TAKE:
            return True
        if verdict is Verdict.DROP:
            self.send(rate_limited_frame(rate.per_s))
        else:
            await self.ws.close(code=CLOSE_FLOODING, message=b"too many frames")
        return False

    async def _write(self) -> None:
        while (frame := await self.queue.get()) is not None:
            try:
                await send_now(self.ws, frame)
            except (ConnectionError, RuntimeError):
                return

    async def stop(self) -> None:
        if self.queue.full():
            self.task.cancel()
        else:
            self.queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _quiet(task: asyncio.Future[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
        task.result()
