"""callcenter: an event-driven contact-center server."""

__version__ = "0.1.0"
