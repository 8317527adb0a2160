"""Ports: the Protocols the center's parts are written against, and the types that cross
them. Adapters implement them (``storage``, ``speech``, ``crm_link``, ``runtime.memory_bus``); the
composition root (``app.py``) picks the implementations; the app keys (``appkeys.py``) are
typed by them. Imports ``core`` only.
"""
