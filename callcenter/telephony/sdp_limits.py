"""How long a session description a browser may send (the desk's and the supervisor's
WebRTC offers): a real one is a few kilobytes."""

MAX_SDP = 32 * 1024
