"""The desk WebSocket protocol, version 1 (revision 1.1 adds browser audio: the
``webrtc_*`` messages): the desk's requests and their validation.

Every frame is a JSON object with a ``type``. Client messages may carry an ``id`` (a
string or number the client chooses); the server answers each with ``ack`` (same ``id``)
or ``error`` (same ``id``, a stable ``code``, a ``message`` and, for bad fields, the
``field``). A message that fails validation changes nothing. The server's frames are in
``core/desk_frames.py``. docs/desk-protocol.md is the reference; this module and that one
are its executable form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from callcenter.core.client_json import JsonLimits
from callcenter.core.desk_frames import PROTOCOL_REVISION, PROTOCOL_VERSION
from callcenter.core.ws_frames import NON_BLANK, ClientFrame, FrameError, decode_frame, tags
from callcenter.telephony.sdp_limits import MAX_SDP

__all__ = ["PROTOCOL_REVISION", "PROTOCOL_VERSION"]

MAX_FRAME_BYTES = 64 * 1024  # the default of limits.frame_max_bytes
MAX_TEXT = 4000
LIMITS = JsonLimits(max_bytes=MAX_FRAME_BYTES)

Text = Annotated[str, msgspec.Meta(pattern=NON_BLANK, max_length=MAX_TEXT)]
Sdp = Annotated[str, msgspec.Meta(pattern=NON_BLANK, max_length=MAX_SDP)]  # longer than anything typed

ProtocolError = FrameError  # the desk's name for a refused frame


# Client -> server -------------------------------------------------------------------


class Hello(ClientFrame, tag="hello", frozen=True):
    protocol: int
    resume: Text | None = None


class Heartbeat(ClientFrame, tag="heartbeat", frozen=True):
    pass


class SetState(ClientFrame, tag="set_state", frozen=True):
    state: Literal["ready", "not_ready", "logged_out"]
    reason: Text | None = None


class Accept(ClientFrame, tag="accept", frozen=True):
    offer_id: Text


class Decline(ClientFrame, tag="decline", frozen=True):
    offer_id: Text
    reason: Text | None = None


class Hold(ClientFrame, tag="hold", frozen=True):
    contact_id: Text
    on: bool = True


class Mute(ClientFrame, tag="mute", frozen=True):
    contact_id: Text
    on: bool = True


class Transfer(ClientFrame, tag="transfer", frozen=True):
    contact_id: Text
    to_queue: Text | None = None
    to_agent: Text | None = None


class End(ClientFrame, tag="end", frozen=True):
    contact_id: Text


class Note(ClientFrame, tag="note", frozen=True):
    contact_id: Text
    text: Text


class Disposition(ClientFrame, tag="disposition", frozen=True):
    contact_id: Text
    code: Text


class CreateTicket(ClientFrame, tag="create_ticket", frozen=True):
    contact_id: Text
    kind: Literal["complaint", "request", "follow-up"]
    subject: Text
    due: Text | None = None


class ChatSend(ClientFrame, tag="chat_send", frozen=True):
    contact_id: Text
    text: Text


class WrapUpDone(ClientFrame, tag="wrap_up_done", frozen=True):
    contact_id: Text | None = None


class VoicemailAction(ClientFrame, tag="voicemail", frozen=True):
    """What the agent did with a voicemail contact they have: ``listened`` (logged as its
    handling) or ``call_back`` (the voicemail ends ``called_back`` and a callback contact to
    its caller is connected to the same agent, dialled by the callback dialler)."""

    contact_id: Text
    action: Literal["listened", "call_back"]


class WebRtcOffer(ClientFrame, tag="webrtc_offer", frozen=True):
    """The desk's SDP offer for its audio connection; the ack carries the answer."""

    sdp: Sdp


class WebRtcIce(ClientFrame, tag="webrtc_ice", frozen=True):
    """A trickled ICE candidate (``candidate`` as in the browser's RTCIceCandidate);
    none means the browser has no more."""

    candidate: Text | None = None
    sdp_mid: Text | None = None
    sdp_mline_index: Annotated[int, msgspec.Meta(ge=0, le=64)] | None = None


class WebRtcClose(ClientFrame, tag="webrtc_close", frozen=True):
    """The desk stops its audio (the page is closing, the agent turned audio off)."""


ClientMessage = (
    Hello
    | Heartbeat
    | SetState
    | Accept
    | Decline
    | Hold
    | Mute
    | Transfer
    | End
    | Note
    | Disposition
    | CreateTicket
    | ChatSend
    | WrapUpDone
    | VoicemailAction
    | WebRtcOffer
    | WebRtcIce
    | WebRtcClose
)

CLIENT_TYPES = tags(ClientMessage)


@dataclass(frozen=True, slots=True)
class Parsed:
    msg_id: Any
    message: Any


def parse_client_frame(raw: str | bytes, limits: JsonLimits = LIMITS) -> Parsed:
    """Validate one client frame; raise ``ProtocolError`` naming what is wrong."""
    msg_id, message = decode_frame(raw, ClientMessage, limits=limits, with_id=True)
    return Parsed(msg_id, message)
