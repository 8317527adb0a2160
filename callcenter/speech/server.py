"""Speech resources of the running server, opened and closed in one ``cleanup_ctx``.

- ``app[PROMPTS]``: the ``Pyttsx3Renderer`` for ``speech.tts_voice``/``tts_rate`` into
  ``speech.cache_dir``; its worker process is started in the background at startup (a
  failure, such as espeak-ng missing, is one warning; renders retry on demand).
- ``app[RECOGNIZER]``: the ``VoskRecognizer`` for ``speech.model_path``, loaded in a
  thread at startup (2-7 s for a real model). Without a model the key is absent and
  ``load_recognizer`` has logged one warning: speech input is off, digits still work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.appkeys import CONFIG, PROMPTS, RECOGNIZER
from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer
from callcenter.speech.vosk_recognizer import load_recognizer

log = logging.getLogger(__name__)


async def speech_ctx(app: web.Application) -> AsyncIterator[None]:
    speech = app[CONFIG].speech
    renderer = Pyttsx3Renderer(speech.cache_dir, voice=speech.tts_voice, rate=speech.tts_rate)
    warm = asyncio.create_task(_warm(renderer), name="tts-worker-start")
    recognizer = await asyncio.to_thread(load_recognizer, speech.model_path)
    app[PROMPTS] = renderer
    if recognizer is not None:
        app[RECOGNIZER] = recognizer
    yield
    warm.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await warm
    await renderer.close()
    if recognizer is not None:
        await recognizer.close()


async def _warm(renderer: Pyttsx3Renderer) -> None:
    try:
        await renderer.start()
    except Exception as exc:  # the first render retries; say why now, once
        log.warning("The TTS worker did not start (%s); prompts will be rendered on demand.", exc)
