"""The sans-I/O SIP transactions and dialog table (``sip_transactions``): exact deadlines and
datagrams with time passed by hand, no loop and no sleeping; every (state, event) pair of
every table does what the table says, and a pair it does not list raises."""

from __future__ import annotations

import ast
import inspect
import itertools
from typing import Any

import pytest

from callcenter.telephony import sip_transactions
from callcenter.telephony.sip_transactions import (
    DIALOG,
    INVITE_CLIENT,
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    TIMEOUT,
    DialogEvent,
    DialogState,
    Do,
    IllegalEvent,
    InviteClientTx,
    InviteServerTx,
    NonInviteClientTx,
    Output,
    Report,
    ResponseCache,
    Send,
    Table,
    Transaction,
    TxEvent,
    TxState,
    dialog_step,
)

PEER = ("192.0.2.7", 5060)
OK = b"SIP/2.0 200 OK\r\n\r\n"
RINGING = b"SIP/2.0 180 Ringing\r\n\r\n"
INVITE = b"INVITE sip:555@192.0.2.7 SIP/2.0\r\n\r\n"
ACK = b"ACK sip:555@192.0.2.7 SIP/2.0\r\n\r\n"
BYE = b"BYE sip:555@192.0.2.7 SIP/2.0\r\n\r\n"
T0 = 1000.0
# Over UDP: re-sent 0.5, 1.5, 3.5, 7.5 s after the first send, then every T2 = 4 s, and
# given up 64*T1 = 32 s after it.
RESENDS = [T0 + t for t in (0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)]


def sent(output: Output[tuple[str, int]]) -> list[bytes]:
    assert all(item.to == PEER for item in output.sends)
    return [item.data for item in output.sends]


def run_timers(tx: Transaction[tuple[str, int]]) -> tuple[list[float], list[Report]]:
    """Fire the transaction's timer at each deadline it gives until it has none: the times a
    message went out and the reports."""
    times: list[float] = []
    reports: list[Report] = []
    while (deadline := tx.deadline) is not None:
        output = tx.on_timer(deadline)
        times += [deadline] * len(output.sends)
        reports += output.reports
    return times, reports


# The server INVITE transaction: our final response until the ACK


def test_final_response_retransmits_at_t1_doubling_to_t2_and_gives_up_at_64_t1() -> None:
    tx = InviteServerTx(to=PEER, reliable=False, message=RINGING)
    output = tx.final(OK, T0, success=True)
    assert sent(output) == [OK] and output.reports == ()
    assert tx.state is TxState.COMPLETED and tx.deadline == T0 + 0.5
    times, reports = run_timers(tx)
    assert times == RESENDS
    assert reports == [Report.TIMEOUT]
    assert tx.done  # terminated


def test_each_retransmission_carries_the_final_response() -> None:
    tx = InviteServerTx(to=PEER, reliable=False)
    tx.final(OK, T0, success=True)
    assert sent(tx.on_timer(T0 + 0.5)) == [OK]
    assert tx.deadline == T0 + 1.5


def test_the_ack_stops_retransmission_and_a_late_invite_still_gets_the_final() -> None:
    tx = InviteServerTx(to=PEER, reliable=False)
    tx.final(OK, T0, success=True)
    tx.on_timer(T0 + 0.5)
    tx.on_timer(T0 + 1.5)
    output = tx.ack(T0 + 2.0)
    assert output == Output() and tx.state is TxState.CONFIRMED and tx.deadline is None
    assert tx.on_timer(T0 + 3.5) == Output()
    assert sent(tx.request_again(T0 + 4.0)) == [OK]
    assert tx.ack(T0 + 4.1) == Output() and tx.state is TxState.CONFIRMED


def test_a_timer_is_measured_from_when_it_really_fired() -> None:
    tx = InviteServerTx(to=PEER, reliable=False)
    tx.final(OK, T0, success=True)
    tx.on_timer(T0 + 0.7)  # the loop ran it 0.2 s late
    assert tx.deadline == T0 + 1.7


def test_a_timer_a_hair_early_counts_and_one_clearly_early_does_nothing() -> None:
    tx = InviteServerTx(to=PEER, reliable=False)
    tx.final(OK, T0, success=True)
    assert tx.on_timer(T0 + 0.4) == Output() and tx.deadline == T0 + 0.5
    assert sent(tx.on_timer(T0 + 0.5 - 0.0005)) == [OK]
    assert tx.deadline == pytest.approx(T0 + 1.5 - 0.0005)


def test_over_tcp_only_the_time_out_is_armed() -> None:
    tx = InviteServerTx(to=PEER, reliable=True)
    assert sent(tx.final(OK, T0, success=True)) == [OK]
    assert tx.deadline == T0 + TIMEOUT
    assert run_timers(tx) == ([], [Report.TIMEOUT])


def test_a_487_is_retransmitted_like_a_2xx() -> None:
    tx = InviteServerTx(to=PEER, reliable=False, message=RINGING)
    terminated = b"SIP/2.0 487 Request Terminated\r\n\r\n"
    assert sent(tx.final(terminated, T0, success=False)) == [terminated]
    times, reports = run_timers(tx)
    assert times == RESENDS and reports == [Report.TIMEOUT]


def test_proceeding_answers_a_retransmitted_invite_with_the_provisional() -> None:
    tx = InviteServerTx(to=PEER, reliable=False, message=RINGING)
    assert sent(tx.request_again(T0)) == [RINGING]
    assert sent(tx.provisional(T0 + 0.1)) == [RINGING]
    assert tx.deadline is None and tx.state is TxState.PROCEEDING
    assert tx.ack(T0 + 0.2) == Output()  # an ACK before any final changes nothing


def test_abandon_cancels_the_timer_without_a_report() -> None:
    tx = InviteServerTx(to=PEER, reliable=False)
    tx.final(OK, T0, success=True)
    assert tx.abandon(T0 + 1) == Output()
    assert tx.deadline is None and tx.state is TxState.TERMINATED
    assert tx.on_timer(T0 + TIMEOUT) == Output()


def test_a_second_final_response_is_illegal() -> None:
    tx = InviteServerTx(to=PEER, reliable=False)
    tx.final(OK, T0, success=True)
    with pytest.raises(IllegalEvent, match="'3xx-6xx' is not allowed in state 'completed'"):
        tx.final(b"SIP/2.0 500 Oops\r\n\r\n", T0 + 1, success=False)
    assert tx.state is TxState.COMPLETED and tx.message == OK and tx.deadline == T0 + 0.5


# The dialler's INVITE


def test_an_unanswered_invite_retransmits_and_times_out() -> None:
    tx = InviteClientTx(to=PEER, reliable=False, message=INVITE)
    assert sent(tx.start(T0)) == [INVITE]
    assert tx.state is TxState.CALLING and tx.deadline == T0 + 0.5
    times, reports = run_timers(tx)
    assert times == RESENDS and reports == [Report.TIMEOUT]
    assert tx.done  # terminated


def test_a_provisional_response_stops_retransmission_and_timer_b() -> None:
    tx = InviteClientTx(to=PEER, reliable=False, message=INVITE)
    tx.start(T0)
    tx.on_timer(T0 + 0.5)
    output = tx.response(180, T0 + 0.9)
    assert output == Output(reports=(Report.PROVISIONAL,))
    assert tx.state is TxState.PROCEEDING and tx.deadline is None
    assert tx.response(183, T0 + 1.0) == Output()  # reported once


def test_a_failure_is_acked_and_its_retransmission_acked_again() -> None:
    tx = InviteClientTx(to=PEER, reliable=False, message=INVITE)
    tx.start(T0)
    tx.response(180, T0 + 0.1)
    output = tx.response(486, T0 + 2, ack=ACK)
    assert sent(output) == [ACK] and output.reports == (Report.FAILURE,)
    assert tx.state is TxState.COMPLETED and tx.deadline is None
    again = tx.response(486, T0 + 2.5, ack=ACK)
    assert sent(again) == [ACK] and again.reports == ()
    assert tx.response(200, T0 + 3) == Output()  # a 2xx after a failure is ignored


def test_a_failure_before_any_provisional_stops_the_timers() -> None:
    tx = InviteClientTx(to=PEER, reliable=False, message=INVITE)
    tx.start(T0)
    output = tx.response(503, T0 + 0.2, ack=ACK)
    assert sent(output) == [ACK] and output.reports == (Report.FAILURE,) and tx.deadline is None


def test_a_2xx_ends_the_transaction_and_its_retransmissions_are_the_dialogs() -> None:
    tx = InviteClientTx(to=PEER, reliable=False, message=INVITE)
    tx.start(T0)
    assert tx.response(200, T0 + 0.3) == Output(reports=(Report.SUCCESS,))
    assert tx.state is TxState.TERMINATED and tx.deadline is None
    assert tx.response(200, T0 + 0.8) == Output()
    assert sent(tx.response(500, T0 + 0.9, ack=ACK)) == [ACK]  # any non-2xx final is ACKed


# Our BYE and CANCEL


def test_a_bye_retransmits_through_provisionals_until_its_final() -> None:
    tx = NonInviteClientTx(to=PEER, reliable=False, message=BYE)
    assert sent(tx.start(T0)) == [BYE]
    assert sent(tx.on_timer(T0 + 0.5)) == [BYE]
    assert tx.response(100, T0 + 0.6) == Output() and tx.deadline == T0 + 1.5
    assert sent(tx.on_timer(T0 + 1.5)) == [BYE]
    assert tx.response(200, T0 + 1.6) == Output(reports=(Report.SUCCESS,))
    assert tx.done and tx.deadline is None
    assert tx.response(200, T0 + 1.7) == Output()


def test_an_unanswered_bye_times_out() -> None:
    tx = NonInviteClientTx(to=PEER, reliable=False, message=BYE)
    tx.start(T0)
    assert run_timers(tx) == (RESENDS, [Report.TIMEOUT])


# Every pair of every table


def _pairs(table: Table) -> list[tuple[str, Table, TxState, TxEvent]]:
    name = {id(INVITE_SERVER): "server", id(INVITE_CLIENT): "client", id(NON_INVITE_CLIENT): "non-invite"}
    return [(name[id(table)], table, state, event) for state, event in itertools.product(TxState, TxEvent)]


_MACHINES: dict[str, Any] = {
    "server": InviteServerTx,
    "client": InviteClientTx,
    "non-invite": NonInviteClientTx,
}


@pytest.mark.parametrize(
    ("name", "table", "state", "event"),
    _pairs(INVITE_SERVER) + _pairs(INVITE_CLIENT) + _pairs(NON_INVITE_CLIENT),
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_state_and_event_follows_its_table(
    name: str, table: Table, state: TxState, event: TxEvent
) -> None:
    tx: Transaction[tuple[str, int]] = _MACHINES[name](to=PEER, reliable=False, message=b"M")
    tx.state = state
    row = table.get((state, event))
    if row is None:
        with pytest.raises(IllegalEvent) as raised:
            tx.handle(event, T0, ack=b"A")
        assert (raised.value.state, raised.value.event) == (state, event)
        assert tx.state is state
        return
    next_state, actions = row
    output = tx.handle(event, T0, ack=b"A")
    assert tx.state is next_state
    expected_sends = [b"M" if a is Do.SEND else b"A" for a in actions if a in (Do.SEND, Do.SEND_ACK)]
    assert output.sends == tuple(Send(data=data, to=PEER) for data in expected_sends)
    assert output.reports == tuple(a for a in actions if isinstance(a, Report))
    assert (tx.deadline == T0 + 0.5) if Do.ARM in actions else tx.deadline is None
    if not actions and event is not TxEvent.ABANDON:
        assert next_state is state  # a pair listed with nothing to do is an ignore


def test_every_table_ends_every_state_with_abandon_and_terminated_stays() -> None:
    for table in (INVITE_SERVER, INVITE_CLIENT, NON_INVITE_CLIENT):
        states = {state for state, _ in table}
        for state in states:
            assert table[(state, TxEvent.ABANDON)][0] is TxState.TERMINATED
            assert not any(isinstance(a, Report) for a in table[(state, TxEvent.ABANDON)][1])
        assert all(row[0] is TxState.TERMINATED for (s, _), row in table.items() if s is TxState.TERMINATED)


# Dialogs


@pytest.mark.parametrize(("state", "event"), list(itertools.product(DialogState, DialogEvent)))
def test_every_dialog_state_and_event_follows_the_table(state: DialogState, event: DialogEvent) -> None:
    expected = DIALOG.get((state, event))
    if expected is None:
        with pytest.raises(IllegalEvent):
            dialog_step(state, event)
    else:
        assert dialog_step(state, event) is expected


def test_the_dialog_paths_of_an_answered_and_a_placed_call() -> None:
    inbound = [DialogEvent.ANSWER, DialogEvent.ACK, DialogEvent.END]
    outbound = [DialogEvent.ACCEPTED, DialogEvent.END]
    for events, path in (
        (inbound, [DialogState.ANSWERED, DialogState.CONFIRMED, DialogState.TERMINATED]),
        (outbound, [DialogState.CONFIRMED, DialogState.TERMINATED]),
    ):
        state = DialogState.EARLY
        seen = []
        for event in events:
            state = dialog_step(state, event)
            seen.append(state)
        assert seen == path
    with pytest.raises(IllegalEvent, match="dialog: 'accepted' is not allowed in state 'answered'"):
        dialog_step(DialogState.ANSWERED, DialogEvent.ACCEPTED)


# Non-INVITE server transactions: the response cache


def test_the_response_cache_replays_and_expires_after_64_t1() -> None:
    cache = ResponseCache(size=10)
    cache.remember(("b1", "BYE", "c1"), OK, T0)
    assert cache.replay(("b1", "BYE", "c1")) == OK
    assert cache.replay(("b2", "BYE", "c1")) is None
    cache.remember(("b2", "INFO", "c1"), OK, T0 + TIMEOUT - 0.01)
    assert len(cache) == 2  # the first one still has 0.01 s to live
    cache.remember(("b3", "INFO", "c1"), OK, T0 + TIMEOUT)
    assert cache.replay(("b1", "BYE", "c1")) is None and len(cache) == 2


def test_the_response_cache_keeps_at_most_its_size() -> None:
    cache = ResponseCache(size=3)
    for n in range(5):
        cache.remember((f"b{n}", "OPTIONS", "c"), bytes([n]), T0)
    assert len(cache) == 3
    assert [cache.replay((f"b{n}", "OPTIONS", "c")) for n in range(5)] == [None, None, b"\2", b"\3", b"\4"]


def test_the_transaction_layer_imports_no_io_and_no_clock() -> None:
    tree = ast.parse(inspect.getsource(sip_transactions))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"__future__", "collections", "dataclasses", "enum", "typing"}
