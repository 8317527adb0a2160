"""Message catalogues: ``catalogues/<language>.json``, one flat object of key -> text.

Theory of operation
-------------------
A key names a face (common, chat, desk, wallboard, reports, recordings, login) and a place
(``chat.status.connected``, ``common.language_name``); its text may hold placeholders in
braces (``{name} joined the chat``) that the page fills in.
English (``en``) is the default and the reference: every catalogue holds exactly its keys,
and each text the same placeholders (``problems()`` lists what breaks that; a test runs it).
A language is shipped when its file is here; ``resolve`` picks the shipped language for a
browser's preferred tags, by the same rule as ``static/i18n.js``: a tag's exact code, then
its first subtag (``zh``, ``zh-Hans``, ``zh-TW`` -> ``zh-CN``), else English.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

CATALOGUES = Path(__file__).with_name("catalogues")
DEFAULT = "en"
KEY = re.compile(r"^(common|chat|desk|wallboard|reports|recordings|login)(\.[a-z0-9_]+)+$")
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class UnknownLanguage(ValueError):
    """A language no catalogue is shipped for."""

    def __init__(self, language: str) -> None:
        shown = language if len(language) <= 40 else language[:40] + "…"
        super().__init__(f"no catalogue for language {shown!r} (shipped: {', '.join(languages())})")
        self.language = language


@functools.cache
def languages() -> tuple[str, ...]:
    """The shipped languages' codes, English first."""
    found = sorted(p.stem for p in CATALOGUES.glob("*.json") if CODE.match(p.stem))
    return (DEFAULT, *(code for code in found if code != DEFAULT))


@functools.cache
def catalogue(language: str) -> Mapping[str, str]:
    """The messages of a shipped language; ``UnknownLanguage`` for any other."""
    if language not in languages():
        raise UnknownLanguage(language)
    data = json.loads((CATALOGUES / f"{language}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"catalogues/{language}.json must be one object of key -> text")
    return data


def check_language(value: str) -> str:
    """``value`` when a catalogue is shipped for it, else ``UnknownLanguage`` (a ValueError)."""
    if value not in languages():
        raise UnknownLanguage(value)
    return value


def language_names() -> dict[str, str]:
    """Code -> the language's name in itself (``common.language_name``), for a picker."""
    return {code: catalogue(code)["common.language_name"] for code in languages()}


def resolve(tags: Iterable[str]) -> str:
    """The shipped language for a browser's preferred tags (``navigator.languages``)."""
    shipped = {code.lower(): code for code in languages()}
    primary: dict[str, str] = {}
    for code in languages():
        primary.setdefault(code.split("-")[0].lower(), code)
    for tag in tags:
        tag = tag.strip().lower()
        if tag in shipped:
            return shipped[tag]
        if tag.split("-")[0] in primary:
            return primary[tag.split("-")[0]]
    return DEFAULT


def text(language: str, key: str, **params: object) -> str:
    """The message ``key`` in ``language`` with its placeholders filled in (``KeyError`` for
    a key the catalogue lacks, so a typo fails where it is made)."""
    template = catalogue(language)[key]
    return PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)


def english(key: str, **params: object) -> str:
    """The message in the default language: what a server frame carries as plain ``text``
    beside its ``key`` and ``params``, for clients that do not translate."""
    return text(DEFAULT, key, **params)


def placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def problems() -> list[str]:
    """What is wrong with the shipped catalogues (empty when they are sound): a key of
    the wrong shape, a key missing from a language or extra in it, a text that is blank or
    whose placeholders differ from English."""
    found: list[str] = []
    reference = catalogue(DEFAULT)
    found += [f"en: key {k!r} is not <face>.<name>[.<name>...]" for k in reference if not KEY.match(k)]
    for code in languages():
        messages = catalogue(code)
        found += [f"{code}: missing {k!r}" for k in sorted(set(reference) - set(messages))]
        found += [f"{code}: {k!r} is not in en" for k in sorted(set(messages) - set(reference))]
        for key, template in sorted(messages.items()):
            if not template.strip():
                found.append(f"{code}: {key!r} is blank")
            elif key in reference and placeholders(template) != placeholders(reference[key]):
                wanted = ", ".join(sorted(placeholders(reference[key]))) or "none"
                found.append(f"{code}: {key!r} has placeholders other than en's ({wanted})")
    return found
