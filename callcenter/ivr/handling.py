"""What an IVR session does with each input in each phase: the session's one table.

A running session waits in one phase (see ``callcenter.ivr.session``). ``HANDLING`` names,
for each input and each phase, the session handler that runs; ``ANY`` stands for every
phase its row does not name. The session's one timer running out (``handle_timer``) is
one more input, ``TIMER``. A handler returns the node to go to next, or None to stay.

Checked before the table: ``SessionStarted`` starts a new session and raises
``SessionAlreadyStarted`` after that; any other input raises ``SessionNotStarted`` before
it and ``SessionEnded`` after the end; an input of a type the table does not know raises
``IvrError`` (``ivr_unknown_input``). The timer does nothing before it is due, nor
before the start or after the end.

When a prompt ends (``PromptFinished``, or the timer in phase ``prompt``), what follows
depends on why it was played: ``AFTER_PROMPT``, by the session's ``after``.

docs/ivr.md shows both tables as ``markdown()`` writes them; a test keeps them equal.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from callcenter.ivr.messages import (
    CallerHungUp,
    ContactCompleted,
    DigitsReceived,
    LookupCompleted,
    PromptFinished,
    QueueStatusChanged,
    SpeechRecognized,
    VerificationCompleted,
    VoicemailRecorded,
)

Phase = Literal["idle", "prompt", "input", "lookup", "verifying", "recording", "queued"]
PHASES: Final[tuple[Phase, ...]] = get_args(Phase)
After = Literal["next", "listen", "record", "transfer", "hangup", "none"]
AFTERS: Final[tuple[After, ...]] = get_args(After)
Input = type | Literal["timer"]
TIMER: Final = "timer"
ANY: Final = "*"

HANDLING: Final[dict[Input, dict[Phase | Literal["*"], str]]] = {
    DigitsReceived: {"prompt": "barge_in_keys", "input": "take_keys", ANY: "check_keys"},
    SpeechRecognized: {"prompt": "barge_in_speech", "input": "take_speech", ANY: "ignore"},
    PromptFinished: {"prompt": "prompt_finished", ANY: "forget_prompt"},
    CallerHungUp: {ANY: "hung_up"},
    LookupCompleted: {"lookup": "lookup_answered", ANY: "late_lookup"},
    VerificationCompleted: {"verifying": "verification_answered", ANY: "late_verification"},
    VoicemailRecorded: {"recording": "voicemail_recorded", ANY: "refuse_voicemail"},
    ContactCompleted: {"queued": "contact_completed", ANY: "refuse_completed"},
    QueueStatusChanged: {"queued": "queue_status", ANY: "refuse_queue_status"},
    TIMER: {
        "prompt": "prompt_timed_out",
        "input": "input_timed_out",
        "lookup": "lookup_timed_out",
        "verifying": "verification_timed_out",
        "recording": "voicemail_timed_out",
        ANY: "ignore",
    },
}

AFTER_PROMPT: Final[dict[After, str]] = {
    "next": "say_next",
    "listen": "listen",
    "record": "start_recording",
    "transfer": "transfer",
    "hangup": "hang_up",
    "none": "stay",
}

# What each handler does, in the words docs/ivr.md uses.
WHAT: Final[dict[str, str]] = {
    "barge_in_keys": "keys are checked; a `say` node with `barge_in` stops its prompt and goes on "
    "to `next` with the keys typed ahead; a question with `barge_in` stops its prompt and "
    "takes them as `take_keys`; otherwise they are ignored",
    "take_keys": "keys are checked; a menu takes the first as its option, a survey as its rating "
    "(the rest is typed ahead), a key that means nothing there is a no-match; a collect node "
    "adds them to its entry until it is full, the terminator comes or the inter-digit timer "
    "runs out",
    "check_keys": "keys are checked (`ivr_bad_keys` for keys other than `0-9*#`), then ignored",
    "barge_in_speech": "a question with `barge_in` stops its prompt and takes the words as "
    "`take_speech`; otherwise they are ignored",
    "take_speech": "a menu takes the option whose phrase was heard, a survey the rating; a "
    "collect node takes digits said or typed; nothing usable is a no-match",
    "ignore": "nothing happens",
    "prompt_finished": "for the prompt playing: what follows it (the next table); for any "
    "other prompt: nothing",
    "forget_prompt": "the prompt, if it is the current one (a queue announcement), is no "
    "longer current; nothing else happens",
    "hung_up": "the session ends (`caller_hung_up`) without a `HangUp` command",
    "lookup_answered": "a lookup never asked is refused (`ivr_unexpected_input`); an earlier "
    "one's answer is ignored; the current one fills `customer.*` and `answer.*` and goes "
    "on to `found` or `not_found`",
    "late_lookup": "a lookup never asked is refused (`ivr_unexpected_input`); a known one "
    "timed out and is ignored",
    "verification_answered": "a verification never asked is refused (`ivr_unexpected_input`); "
    "an earlier one's answer is ignored; the current one goes on to `verified`, asks again "
    "after a wrong answer, or goes to `failed`",
    "late_verification": "a verification never asked is refused (`ivr_unexpected_input`); a "
    "known one timed out and is ignored",
    "voicemail_recorded": "logged (`ivr.voicemail`, recorded); on to the voicemail node's `next`",
    "refuse_voicemail": "refused (`ivr_unexpected_input`): no voicemail is being recorded",
    "contact_completed": "reason `completed`: on to the queue node's `after`, or the session "
    "ends; any other reason ends the session with it and hangs up",
    "refuse_completed": "refused (`ivr_unexpected_input`): the contact was not handed to a queue",
    "queue_status": "sets `position` and the wait estimate, says the queue node's `announce`",
    "refuse_queue_status": "refused (`ivr_unexpected_input`): the contact is not waiting in a queue",
    "prompt_timed_out": "the guard time ran out: as if the prompt finished",
    "input_timed_out": "a collect node with keys takes them; otherwise no input: `no_input` and "
    "the question again, after `retries` the `fallback` (a survey: `next`)",
    "lookup_timed_out": "logged (`ivr.lookup`, `timed_out`); on to `not_found`",
    "verification_timed_out": "the CRM did not answer: logged, not a wrong answer; on to `failed`",
    "voicemail_timed_out": "logged (`ivr.voicemail`, not recorded); on to the voicemail node's `next`",
    "say_next": "a `say` node: on to `next`",
    "listen": "a menu, collect or survey node: phase `input`, with the no-input timer (`timeout_s`)",
    "start_recording": "a voicemail node: `StartVoicemail`, phase `recording`, timer `max_s` + 15 s",
    "transfer": "a transfer node: `TransferExternal`; the session ends (`transferred`)",
    "hang_up": "a hangup node: `HangUp` and the end with its reason (a callback node: `callback`)",
    "stay": "nothing happens",
}


def handler_name(phase: Phase, on: Input) -> str | None:
    """The handler ``HANDLING`` names for ``on`` in ``phase``; None for an unknown input."""
    row = HANDLING.get(on)
    if row is None:
        return None
    return row.get(phase) or row.get(ANY)


def input_name(on: Input) -> str:
    return on if isinstance(on, str) else on.__name__


def markdown() -> str:
    """Both tables and the handlers' meanings, as docs/ivr.md shows them."""
    lines = ["| input / phase | " + " | ".join(f"`{p}`" for p in PHASES) + " |"]
    lines.append("|---" * (len(PHASES) + 1) + "|")
    for on in HANDLING:
        cells = [f"`{handler_name(p, on)}`" for p in PHASES]
        lines.append(f"| `{input_name(on)}` | " + " | ".join(cells) + " |")
    names = dict.fromkeys(n for row in HANDLING.values() for n in row.values())
    lines += ["", *(f"- `{name}`: {WHAT[name]}." for name in names)]
    lines += ["", "When a prompt ends (`AFTER_PROMPT`, by why it was played):", ""]
    lines += ["| after | handler | what happens |", "|---|---|---|"]
    lines += [f"| `{after}` | `{name}` | {WHAT[name]} |" for after, name in AFTER_PROMPT.items()]
    return "\n".join(lines) + "\n"
