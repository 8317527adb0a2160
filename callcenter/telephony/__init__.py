"""Telephony front-ends: every way a call reaches the center reduces to one ``CallChannel``.

``media`` defines the contract; ``sip_server`` (SIP UAS + RTP), ``media_stream`` (Twilio
Media Streams WebSocket) and ``audiosocket`` (Asterisk AudioSocket) implement it;
``bridge`` connects two channels; ``recorder`` writes both sides to WAV.
"""
