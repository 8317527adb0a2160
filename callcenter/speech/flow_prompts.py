"""The static prompts of IVR flows, and ``callcenter prompts build`` that renders them ahead.

A prompt is static when its text holds no ``{variable}``: say texts, menu, collect and
survey prompts, the same prompts after their no-input and no-match apologies (the session
says ``"<sorry> <prompt>"`` as one prompt), queue, callback, voicemail, transfer and
hang-up prompts, and the queues' overflow messages. Announcements and greetings with
variables are dynamic: rendered on demand, and cached the same way.

A flow is spoken with ``flow_voice``: the configured ``speech.tts_voice`` when it suits
the flow's language, else the espeak-ng voice named by the language (``ko``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from callcenter.config.sections import CenterConfig
from callcenter.config.speech import SpeechConfig
from callcenter.ivr.flow import (
    Callback,
    Collect,
    Flow,
    HangUpNode,
    Menu,
    Queue,
    Say,
    Survey,
    Transfer,
    Voicemail,
)
from callcenter.ivr.loader import FlowSet
from callcenter.ports.prompt_renderer import PromptRenderer
from callcenter.speech.prompts import PromptBuildStats, build_prompts


def flow_voice(flow: Flow, speech: SpeechConfig) -> str | None:
    """The voice that speaks ``flow`` (None: the engine's default, English)."""
    configured = speech.tts_voice
    language = flow.language or "en"
    if (configured or "en").lower().startswith(language.lower()):
        return configured
    return language


def static_texts(flow: Flow) -> list[str]:
    """Every prompt of ``flow`` whose text is known before a call, in flow order, once."""
    out: list[str] = []
    for node in flow.nodes.values():
        if isinstance(node, Say):
            out.append(node.text)
        elif isinstance(node, Menu | Collect | Survey):
            out += [node.prompt, f"{node.no_input} {node.prompt}", f"{node.no_match} {node.prompt}"]
        elif isinstance(node, Queue | Callback | Voicemail | Transfer | HangUpNode):
            out.append(node.prompt)
    return list(dict.fromkeys(t.strip() for t in out if t.strip() and "{" not in t))


def overflow_messages(config: CenterConfig) -> list[str]:
    """The queues' fixed overflow messages (one that says when the queue opens is said live)."""
    out: list[str] = []
    for queue in config.queues:
        for target in (
            queue.overflow.on_max_wait,
            queue.overflow.on_closed,
            queue.overflow.on_full,
            queue.overflow.on_no_agents,
        ):
            if target is not None and target.message.strip() and "{" not in target.message:
                out.append(target.message.strip())
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceBatch:
    voice: str | None
    texts: tuple[str, ...]


def prompt_batches(flows: FlowSet, config: CenterConfig) -> Iterator[VoiceBatch]:
    """The texts to render, grouped by voice (one TTS worker per voice)."""
    by_voice: dict[str | None, list[str]] = {config.speech.tts_voice: overflow_messages(config)}
    telephony = config.telephony
    for flow in flows:
        texts = by_voice.setdefault(flow_voice(flow, config.speech), [])
        texts.extend(static_texts(flow))
        if "voice" in flow.entry.channels and telephony.enabled and telephony.callback_key:
            # a waiting caller may hear the callback words: the flow's own, else the section's
            offer = flow.callback.offer or telephony.callback_offer
            confirm = flow.callback.confirm or telephony.callback_confirm
            texts += [t.strip() for t in (offer, confirm) if t.strip()]
    for voice, texts in by_voice.items():
        unique = tuple(dict.fromkeys(texts))
        if unique:
            yield VoiceBatch(voice=voice, texts=unique)


async def build_flow_prompts(
    batches: Iterable[VoiceBatch], renderer: PromptRenderer
) -> list[tuple[str | None, PromptBuildStats]]:
    """Render every batch (voices one after another); failures are collected per batch."""
    results = []
    for batch in batches:
        results.append((batch.voice, await build_prompts(batch.texts, renderer, voice=batch.voice)))
    return results
