"""Every HTTP route of the running demo app, with each role, under hostile input: no 5xx,
API errors in the error shape naming the field, no request over 5 s, and the interaction
log still writing afterwards. Routes come from the app's router, so a new one is fuzzed
without being listed here."""

from __future__ import annotations

import json
import re

import pytest
from fuzzsupport import ROLES, LiveCenter, bodies, check_answer, path_values, queries, routes
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from callcenter.appkeys import LOG

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EVERY_ROLE = ["anonymous", *ROLES]
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _fill(template: str, draw: st.DataObject) -> str:
    return re.sub(r"\{[^}]+\}", lambda _m: draw.draw(path_values), template)


def _fuzz_one(center: LiveCenter, data: st.DataObject) -> None:
    assert center.app is not None
    method, template = data.draw(st.sampled_from(routes(center.app)), label="route")
    role = data.draw(st.sampled_from(EVERY_ROLE), label="role")
    assume(not (template == "/api/v1/auth/logout" and role != "anonymous"))  # keep the sessions
    body = data.draw(bodies, label="body") if method in UNSAFE else None
    answer = center.request(role, method, _fill(template, data), data.draw(queries, label="query"), body)
    check_answer(answer)


def log_still_writes(center: LiveCenter) -> None:
    """A new event reaches the database within 5 s and health is green."""
    assert center.app is not None
    log = center.app[LOG]
    before = log.last_seq
    probe = json.dumps({"username": "fuzz-probe", "password": "wrong"}).encode()
    answer = center.request("anonymous", "POST", "/api/v1/auth/login", body=probe)
    assert answer.status in (401, 429)  # either way an auth.login_failed event is appended
    center.run(log.flush(), timeout=5)
    assert log.last_seq > before
    status, health = center.health()
    assert status == 200 and health["interaction_log"]["ok"], health


def test_a_lone_surrogate_as_user_name_leaves_the_log_writing(center: LiveCenter) -> None:
    """The issue's reproduction: six logins as "\\ud800" (the sixth is throttled and logged)."""
    body = json.dumps({"username": "\ud800", "password": "x"}).encode()
    statuses = [center.request("anonymous", "POST", "/api/v1/auth/login", body=body).status for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    log_still_writes(center)


@settings(FUZZ, max_examples=800)
@given(data=st.data())
def test_hostile_requests_on_every_route_get_no_5xx(center: LiveCenter, data: st.DataObject) -> None:
    _fuzz_one(center, data)


@pytest.mark.slow
@settings(FUZZ, max_examples=6000)
@given(data=st.data())
def test_hostile_requests_long_run(center: LiveCenter, data: st.DataObject) -> None:
    _fuzz_one(center, data)


DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"[" * 33 + b"]" * 33]
HOSTILE_BODIES = [
    *DEEP,
    json.dumps({"username": "\ud800", "password": "\ud800", "name": "\ud800\x00"}).encode(),
    json.dumps({"name": "x\x00y", "account_number": "A-1", "subject": "\udfff", "kind": "request"}).encode(),
    b'{"due_at": "9999-12-31T23:59:59-14:00", "subject": "s", "kind": "request"}',
    b'{"due_at": 1e400, "subject": "s", "kind": "request", "priority_class": ' + b"9" * 400 + b"}",
    b'{"head_start_s": 1e308, "priority_class": 99999999999999999999999, "skills": {"cards": 1e400}}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=lambda b: b[:24].decode(errors="replace"))
def test_deep_nesting_surrogates_huge_numbers_and_far_dates_in_every_body(
    center: LiveCenter, body: bytes
) -> None:
    assert center.app is not None
    for method, template in routes(center.app):
        if method not in UNSAFE or template == "/api/v1/auth/logout":
            continue
        path = re.sub(r"\{[^}]+\}", "c-1", template)
        for role in ("anonymous", "admin"):
            answer = center.request(role, method, path, body=body)
            check_answer(answer)
            json_route = template.startswith("/api/") and template != "/api/v1/staffing"  # that one takes CSV
            if answer.status == 400 and body in DEEP and json_route:
                assert json.loads(answer.body)["error"]["field"] == "body"


FAR_QUERIES = [
    "from=9999-12-31",
    "from=9999-12-31T23:59&to=9999-12-31",
    "from=0001-01-01&to=0001-01-02",
    "from=1e400",
    "from=-1e20&to=nan",
    "date=9999-12-31",
    "date=0001-01-01",
    "before=1e400&limit=99999999999999999999999",
    "before=nan&offset=-1",
    "q=%00&customer_id=%ED%A0%80",
]


@pytest.mark.parametrize("query", FAR_QUERIES)
def test_far_dates_and_huge_numbers_in_queries_are_400s_naming_the_parameter(
    center: LiveCenter, query: str
) -> None:
    assert center.app is not None
    for method, template in routes(center.app):
        if method != "GET":
            continue
        answer = center.request("admin", method, re.sub(r"\{[^}]+\}", "c-1", template), query)
        check_answer(answer)
        named = {"/api/v1/reports": "from", "/api/v1/staffing": "date"}.get(template)
        if named is not None and query.startswith(named):
            assert answer.status == 400, answer
            assert json.loads(answer.body)["error"]["field"] in ("from", "to", "date"), answer


def test_the_log_still_writes_after_the_fuzz(center: LiveCenter) -> None:
    log_still_writes(center)
