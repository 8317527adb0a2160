"""Prompts that offer speech only where it is heard.

A flow writes the part of a prompt that invites the caller to speak between double
brackets: ``For English, press 1[[ or say English]].``, or with the words for keys only
after a bar, where the sentence needs them (Korean: ``1번을 [[누르시거나 외환이라고
말씀하세요|누르세요]].``). When speech recognition is on for the flow's language the
first part is said, else the second (or nothing), so a caller is never invited to speak to
a line that cannot hear.

``speech_promised(text, language)`` finds a promise left outside the brackets (English
"say", Korean "말씀", Hebrew "אמרו"...): the loader warns of it when recognition is off
for the flow's language.
"""

from __future__ import annotations

import re

import msgspec

from callcenter.ivr.flow import Flow, Node

SPEECH_PART = re.compile(r"\[\[(?P<spoken>.*?)(?:\|(?P<keys>.*?))?\]\]", re.S)
TEXT_FIELDS = ("text", "prompt", "no_input", "no_match", "announce")

# Words that ask the caller to speak, per language (a prompt holding one outside the
# brackets promises speech). Other languages are not checked.
_PROMISES = {
    "en": re.compile(r"\bsay\b", re.I),
    "ko": re.compile(r"말씀|말해"),
    "he": re.compile(r"אמר|אמרו|אמרי|תגיד|תגידי"),
}


def base_language(language: str | None) -> str:
    """``ko-KR`` -> ``ko``; None -> ``en`` (a flow's default language)."""
    return (language or "en").replace("_", "-").split("-")[0].lower()


def spoken_text(text: str, speech: bool) -> str:
    """``text`` with each ``[[spoken|keys]]`` part resolved for a line that hears speech
    (``speech``) or takes keys only; spaces left doubled by a removed part are closed."""
    if "[[" not in text:
        return text

    def part(match: re.Match[str]) -> str:
        return match.group("spoken") if speech else (match.group("keys") or "")

    out = SPEECH_PART.sub(part, text)
    out = re.sub(r"[ \t]{2,}", " ", out)
    return re.sub(r" +([.,;:!?])", r"\1", out).strip()


def speech_promised(text: str, language: str | None) -> bool:
    """True when ``text``, outside its ``[[...]]`` parts, asks the caller to speak."""
    pattern = _PROMISES.get(base_language(language))
    return pattern is not None and pattern.search(SPEECH_PART.sub("", text)) is not None


def with_speech(flow: Flow, speech: bool) -> Flow:
    """``flow`` with every prompt's speech parts resolved (see ``spoken_text``)."""
    nodes: dict[str, Node] = {}
    for node_id, node in flow.nodes.items():
        changes = {
            name: spoken_text(value, speech)
            for name in TEXT_FIELDS
            if isinstance(value := getattr(node, name, None), str) and "[[" in value
        }
        nodes[node_id] = msgspec.structs.replace(node, **changes) if changes else node
    return msgspec.structs.replace(flow, nodes=nodes)


def promises(flow: Flow) -> list[tuple[str, str]]:
    """``(node id, field)`` of every prompt that asks the caller to speak outside brackets."""
    return [
        (node_id, name)
        for node_id, node in flow.nodes.items()
        for name in TEXT_FIELDS
        if isinstance(value := getattr(node, name, None), str) and speech_promised(value, flow.language)
    ]
