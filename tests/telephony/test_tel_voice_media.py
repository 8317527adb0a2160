"""What a call hears outside the bridge (prompts in order, barge-in, comfort audio cut by a
prompt, pause for the bridge) and what is heard from it (recognition, voicemail), on a
real channel core and media clock; the renderer and recognizer are fakes that record."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Sequence
from pathlib import Path

import pytest
from telsupport import tone, tone_power, until

from callcenter.ivr.messages import PlayPrompt
from callcenter.ports.prompt_renderer import PromptRenderError
from callcenter.ports.recognition import Recognition
from callcenter.runtime.voice.call_media import PromptAudio, PromptPlayer, SpeechListener, VoicemailTaker
from callcenter.speech.codecs import write_wav
from callcenter.telephony.media import CallInfo, ChannelCore
from callcenter.telephony.media_stream import MediaStreamChannel
from callcenter.telephony.pacer import MediaClock

pytestmark = pytest.mark.timeout(20)


class Line(ChannelCore):
    def __init__(self, clock: MediaClock) -> None:
        super().__init__(CallInfo(call_id="c", caller="1", called="2", front_end="test"), clock)
        self.sent: list[bytes] = []

    def _send_frame(self, pcm: bytes) -> None:
        self.sent.append(pcm)

    async def _send_hangup(self) -> None:
        pass


class Renderer:
    """Renders each text as a tone file (the frequency is in the text), counting renders."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rendered: list[str] = []

    def cached(self, text: str, *, voice: str | None = None) -> Path | None:
        return None

    async def render(self, text: str, *, voice: str | None = None) -> Path:
        self.rendered.append(text)
        if text == "fail":
            raise PromptRenderError("could not render 'fail': RuntimeError: the engine produced no audio")
        freq, seconds = (float(x) for x in text.split())
        path = self.folder / f"{len(self.rendered)}.wav"
        write_wav(path, tone(freq, seconds), 8000)
        return path

    async def close(self) -> None:
        pass


def prompt(pid: str, text: str) -> PlayPrompt:
    return PlayPrompt(prompt_id=pid, text=text, barge_in=True)


def seconds_of(frames: list[bytes], freq: float) -> float:
    return sum(1 for f in frames if tone_power(f, freq) > 0.5) * 0.02


async def test_prompts_play_in_order_barge_in_cuts_and_only_whole_prompts_are_reported(
    tmp_path: Path,
) -> None:
    clock = MediaClock()
    line = Line(clock)
    renderer = Renderer(tmp_path)
    finished: list[str] = []
    done = asyncio.Event()

    def report(pid: str) -> None:
        finished.append(pid)
        if pid == "p3":
            done.set()

    player = PromptPlayer(line, PromptAudio(renderer), b"", report)
    player.say(prompt("p1", "500 0.3"))
    player.say(prompt("p2", "700 2.0"))
    player.say(prompt("p3", "900 0.2"))
    player.stop("p3")  # still waiting: dropped, never rendered
    player.say(prompt("p3", "900 0.2"))
    await until(lambda: "p1" in finished)
    await asyncio.sleep(0.1)
    player.stop("p2")  # barge-in while it plays
    await asyncio.wait_for(done.wait(), 5)
    assert finished == ["p1", "p3"]
    assert seconds_of(line.sent, 500) == pytest.approx(0.3, abs=0.05)
    assert seconds_of(line.sent, 700) < 0.5
    assert renderer.rendered == ["500 0.3", "700 2.0", "900 0.2"]  # the second p3 came from memory
    await player.close()
    await line.hangup()


async def test_a_prompt_that_cannot_be_rendered_still_ends_with_its_mark(tmp_path: Path) -> None:
    """The far end counts prompts by their marks (a carrier, the simulator's callers): a
    prompt without audio must not leave it waiting for a mark that never comes."""
    clock = MediaClock()
    line = MediaStreamChannel(CallInfo(call_id="c", caller="1", called="2", front_end="test"), clock, "MZ1")
    finished: list[str] = []
    player = PromptPlayer(line, PromptAudio(Renderer(tmp_path)), b"", finished.append)
    player.say(prompt("greeting", "fail"))
    player.say(prompt("menu", "500 0.1"))
    await until(lambda: finished == ["greeting", "menu"])
    sent = []
    while not line.outbox.empty():
        message = line.outbox.get_nowait()
        assert message is not None
        sent.append(message["event"])
    assert sent[0] == "mark" and sent.count("mark") == 2 and sent[-1] == "mark"
    assert sent.count("media") == 5  # the menu's 0.1 s, between the two marks
    await player.close()
    await line.hangup()


async def test_comfort_audio_fills_the_wait_and_a_prompt_cuts_it_at_once(tmp_path: Path) -> None:
    clock = MediaClock()
    line = Line(clock)
    finished: list[str] = []
    player = PromptPlayer(line, PromptAudio(Renderer(tmp_path)), tone(300, 2.0), finished.append)
    player.comfort(True)
    await asyncio.sleep(0.3)
    assert seconds_of(line.sent, 300) > 0.15
    before = len(line.sent)
    player.say(prompt("a", "800 0.2"))
    await until(lambda: bool(finished))
    after_cut = line.sent[before:]
    first_prompt = next(i for i, f in enumerate(after_cut) if tone_power(f, 800) > 0.5)
    assert first_prompt <= 3  # the music stopped within a few frames
    player.pause()  # the bridge takes the line: nothing more from the player
    await asyncio.sleep(0.1)
    count = len(line.sent)
    await asyncio.sleep(0.2)
    assert len(line.sent) == count
    await player.close()
    await line.hangup()


class Stream:
    def __init__(self, hear_after: int, log: list[str]) -> None:
        self.fed = 0
        self.hear_after = hear_after
        self.log = log

    async def feed(self, frame: bytes) -> Recognition | None:
        self.fed += 1
        return Recognition(text="balance", confidence=0.9) if self.fed == self.hear_after else None

    async def finish(self) -> Recognition | None:
        self.log.append(f"finish after {self.fed}")
        return None


class Recognizer:
    def __init__(self, hear_after: int) -> None:
        self.hear_after = hear_after
        self.log: list[str] = []

    def start(self, grammar: Sequence[str]) -> Stream:
        self.log.append("start " + ",".join(grammar))
        return Stream(self.hear_after, self.log)

    def knows(self, word: str) -> bool:
        return True

    async def close(self) -> None:
        pass


async def test_recognition_reports_its_first_result_once_and_stop_finishes_the_stream() -> None:
    recognizer = Recognizer(hear_after=5)
    heard: list[Recognition] = []
    listener = SpeechListener(recognizer, heard.append)
    listener.feed(bytes(320))  # nobody listens: ignored
    listener.start(("balance", "agent"), timeout_s=5)
    for _ in range(8):
        listener.feed(bytes(320))
    await listener.close()
    assert heard == [Recognition(text="balance", confidence=0.9)]
    assert recognizer.log == ["start balance,agent", "finish after 5"]

    listener = SpeechListener(Recognizer(hear_after=100), heard.append)
    listener.start(("agent",), timeout_s=0.1)  # nothing said in time: the stream is finished
    listener.feed(bytes(320))
    await listener.close()
    assert len(heard) == 1
    assert SpeechListener(None, heard.append).listening is False


async def test_voicemail_beeps_then_records_until_the_limit(tmp_path: Path) -> None:
    clock = MediaClock()
    line = Line(clock)
    taker = VoicemailTaker(line, tmp_path / "vm" / "c1.wav", max_s=0.2)
    await until(lambda: taker.recording)
    assert seconds_of(line.sent, 1000) >= 0.35  # the beep came first
    results = [taker.add(tone(440, 0.02)) for _ in range(12)]
    assert results.index(False) == 9  # the 10th frame reaches 0.2 s
    path, seconds = await taker.finish()
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (8000, 1, 12 * 160)
    assert seconds == pytest.approx(0.24)
    await line.hangup()
