"""The IVR runner carries out every kind of command through the channel port, with the
real IvrSession and the real Center on SQLite: barge-in stops the prompt, a menu's words
reach the recognizer and a spoken answer takes its branch, a transfer and a voicemail end
the call, a callback leaves a contact of channel ``callback`` in the ACD."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from demo_center import demo_config
from msgspec.structs import replace

from callcenter.app import create_app
from callcenter.appkeys import LOG
from callcenter.core.clock import VirtualClock
from callcenter.ivr import messages as ivr
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.ivr_runner.ports import IvrCall
from callcenter.runtime.ivr_runner.runner import IvrRunner
from callcenter.runtime.keys import CENTER

ROOT = Path(__file__).resolve().parents[2]
MONDAY_10 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()

FLOWS = {
    "speak.yaml": """
entry: {numbers: ["+1001"], channels: [voice]}
start: hello
nodes:
  hello: {kind: say, text: Hello., barge_in: true, next: menu}
  menu:
    kind: menu
    prompt: Say sales or support.
    options:
      - {digit: "1", say: [sales], next: out}
      - {digit: "2", say: [support], next: bye}
    fallback: bye
  out: {kind: transfer, uri: "sip:sales@example.com", prompt: Transferring you.}
  bye: {kind: hangup, prompt: Goodbye.}
""",
    "later.yaml": """
entry: {numbers: ["+1002"], channels: [voice]}
start: cb
nodes:
  cb: {kind: callback, queue: general, attributes: {intent: loan}, prompt: We will call you.}
""",
    "message.yaml": """
entry: {numbers: ["+1003"], channels: [voice]}
start: vm
nodes:
  vm: {kind: voicemail, max_s: 60, next: bye}
  bye: {kind: hangup, prompt: Thanks.}
""",
}


class Channel:
    """A voice front-end that records every call; prompts finish when the test says so."""

    kind = "voice"

    def __init__(self) -> None:
        self.call: IvrCall | None = None
        self.log: list[tuple[str, Any]] = []
        self.playing: list[ivr.PlayPrompt] = []

    def opened(self, call: IvrCall) -> None:
        self.call = call

    def play(self, prompt: ivr.PlayPrompt) -> None:
        self.playing.append(prompt)
        self.log.append(("play", prompt.text))

    def finish_prompts(self) -> None:
        assert self.call is not None
        for prompt in self.playing:
            self.call.post(ivr.PromptFinished(prompt_id=prompt.prompt_id))
        self.playing.clear()

    def stop_prompt(self, prompt_id: str) -> None:
        self.playing = [p for p in self.playing if p.prompt_id != prompt_id]
        self.log.append(("stop", prompt_id))

    def start_recognition(self, grammar: tuple[str, ...], timeout_s: float) -> None:
        self.log.append(("listen", grammar))

    def stop_recognition(self) -> None:
        self.log.append(("stop_listening", None))

    def start_voicemail(self, max_s: float, queue: str | None = None) -> None:
        self.log.append(("voicemail", max_s))

    def transfer(self, uri: str) -> None:
        self.log.append(("transfer", uri))

    def hang_up(self, reason: str) -> None:
        self.log.append(("hang_up", reason))

    def on_routing(self, command: Any) -> None:
        self.log.append(("routing", type(command).__name__))


@pytest.fixture
async def client(aiohttp_client, tmp_path: Path) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    folder = tmp_path / "ivr"
    folder.mkdir()
    for name, text in FLOWS.items():
        (folder / name).write_text(text, encoding="utf-8")
    config = demo_config(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", hours="as configured")
    config = replace(
        config, speech=replace(config.speech, cache_dir=str(tmp_path / "prompts")), ivr_dir=str(folder)
    )
    client = await aiohttp_client(create_app(config, clock=VirtualClock(MONDAY_10)))
    yield client
    await client.close()


@pytest.fixture
def app(client: Any) -> Any:
    return client.server.app


async def settle(runner: IvrRunner) -> None:
    for _ in range(3):
        await runner.idle()
        await runner.center.acd.idle()


async def dial(runner: IvrRunner, called: str) -> tuple[Channel, IvrCall]:
    channel = Channel()
    call = await runner.start(channel=channel, caller="+972501112233", called=called)
    await settle(runner)
    return channel, call


async def test_barge_in_stops_the_prompt_and_a_spoken_answer_transfers(app) -> None:  # type: ignore[no-untyped-def]
    runner = app[IVR_RUNNER]
    channel, call = await dial(runner, "+1001")
    assert call.flow.name == "speak"
    assert channel.log == [("play", "Hello.")]
    call.post(ivr.DigitsReceived(digits="9"))  # a key while the barge-in welcome plays
    await settle(runner)
    assert channel.log[1][0] == "stop"  # cut off, and the key is typed ahead into the menu
    assert channel.playing[-1].text == "Sorry, that is not one of the choices. Say sales or support."
    assert ("listen", ("sales", "support")) in channel.log
    call.post(ivr.SpeechRecognized(text="sales", confidence=0.9))
    await settle(runner)
    assert channel.log[-2:] == [("stop_listening", None), ("play", "Transferring you.")]
    channel.finish_prompts()
    await settle(runner)
    assert channel.log[-1] == ("transfer", "sip:sales@example.com") and call.ended
    await app[LOG].flush()
    [end] = [e for e in await app[LOG].read(contact_id=call.contact_id) if e.type == "contact.ended"]
    assert end.data["reason"] == "transferred"


async def test_a_callback_leaves_a_callback_contact_in_the_acd(app) -> None:  # type: ignore[no-untyped-def]
    runner = app[IVR_RUNNER]
    channel, call = await dial(runner, "+1002")
    channel.finish_prompts()
    await settle(runner)
    assert channel.log == [
        ("play", "We will call you."),
        ("routing", "OfferCallback"),
        ("hang_up", "callback"),
    ]
    contact = app[CENTER].engine.contacts[call.contact_id]
    assert (contact.channel, contact.queue, contact.caller) == ("callback", "general", "+972501112233")
    assert contact.attributes["callback_number"] == "+972501112233"
    assert contact.attributes["intent"] == "loan"
    call.hang_up()  # the line is gone already: the callback stays
    await settle(runner)
    assert call.contact_id in app[CENTER].engine.contacts


async def test_a_voicemail_is_recorded_then_the_flow_goes_on(app) -> None:  # type: ignore[no-untyped-def]
    runner = app[IVR_RUNNER]
    channel, call = await dial(runner, "+1003")
    channel.finish_prompts()
    await settle(runner)
    assert channel.log[-1] == ("voicemail", 60)
    call.post(ivr.VoicemailRecorded(path="/var/vm/1.wav", seconds=12.5))
    await settle(runner)
    channel.finish_prompts()
    await settle(runner)
    assert channel.log[-2:] == [("play", "Thanks."), ("hang_up", "completed")]
    await app[LOG].flush()
    [vm] = [e for e in await app[LOG].read(contact_id=call.contact_id) if e.type == "ivr.voicemail"]
    assert vm.data == {"node": "vm", "recorded": True, "path": "/var/vm/1.wav", "seconds": 12.5}


async def test_an_admin_reloads_the_flows_and_a_broken_folder_is_refused_with_its_problems(
    client: Any, tmp_path: Path
) -> None:
    runner = client.server.app[IVR_RUNNER]

    async def reload_as(user: str) -> Any:
        login = await client.post("/api/v1/auth/login", json={"username": user, "password": user})
        csrf = (await login.json())["csrf_token"]
        return await client.post("/api/v1/admin/ivr/reload", headers={"X-CSRF-Token": csrf})

    assert (await reload_as("alice")).status == 403
    (tmp_path / "ivr" / "later.yaml").write_text(
        "start: cb\nnodes: {cb: {kind: callback, queue: nosuch}}\n", encoding="utf-8"
    )
    refused = await reload_as("admin")
    body = await refused.json()
    assert refused.status == 422 and body["reloaded"] is False
    assert any("later.yaml:2" in p and "nosuch" in p for p in body["problems"])
    assert sorted(f.name for f in runner.flows) == ["later", "message", "speak"]  # the running flows stay
    (tmp_path / "ivr" / "later.yaml").unlink()
    done = await reload_as("admin")
    assert done.status == 200 and (await done.json())["flows"] == ["message", "speak"]
    assert runner.flows.entry_for("voice", "+1002") is None
