"""What a caller's keys or words mean to a menu, a collect node or a survey.

Pure functions over one node; the session decides what happens next.
"""

from __future__ import annotations

import re

from callcenter.ivr.flow import KEYS, Collect, Menu, MenuOption, Survey, normalise

AskingNode = Menu | Collect | Survey
_RATINGS = "12345"


def grammar(node: AskingNode) -> tuple[str, ...]:
    """Phrases the recognizer should listen for at this node (empty: no speech input)."""
    if isinstance(node, Menu):
        return tuple(normalise(p) for o in node.options for p in o.say)
    if isinstance(node, Survey):
        return tuple(normalise(p) for p in node.phrases)
    return ()


def buttons(node: AskingNode) -> tuple[tuple[str, str], ...]:
    """``(key, label)`` pairs a chat widget shows; a key is a digit or a phrase."""
    if isinstance(node, Menu):
        return tuple((o.key, o.title) for o in node.options)
    if isinstance(node, Survey):
        return tuple((k, k) for k in _RATINGS)
    return ()


def menu_by_key(menu: Menu, key: str) -> MenuOption | None:
    return next((o for o in menu.options if o.digit == key), None)


def menu_by_speech(menu: Menu, text: str, confidence: float) -> MenuOption | None:
    """The option whose phrase was heard. Chat text that is exactly a key or a phrase
    counts too. A phrase may also be heard inside a longer utterance ("agent please")."""
    heard = normalise(text)
    if not heard or confidence < menu.min_confidence:
        return None
    for option in menu.options:
        if heard == option.digit or any(heard == normalise(p) for p in option.say):
            return option
    padded = f" {heard} "
    for option in menu.options:
        if any(f" {normalise(p)} " in padded for p in option.say):
            return option
    return None


def survey_by_key(key: str) -> int | None:
    return int(key) if key in _RATINGS else None


def survey_by_speech(survey: Survey, text: str, confidence: float) -> int | None:
    heard = normalise(text)
    if not heard or confidence < survey.min_confidence:
        return None
    if heard in _RATINGS:
        return int(heard)
    phrases = {normalise(p): r for p, r in survey.phrases.items()}
    return phrases.get(heard)


def collect_valid(node: Collect, value: str) -> bool:
    if not node.min_length <= len(value) <= node.max_length:
        return False
    return node.pattern is None or re.fullmatch(node.pattern, value) is not None


def typed_digits(text: str) -> str | None:
    """Chat text (or speech) that is only keys, spaces, dashes, dots and slashes (a date
    typed as 14.05.1988), as keys; else None."""
    keys = "".join(text.split()).replace("-", "").replace(".", "").replace("/", "")
    return keys if keys and all(k in KEYS for k in keys) else None
