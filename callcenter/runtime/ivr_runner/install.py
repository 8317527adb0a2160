"""The IVR runner in the server: flows loaded from ``ivr_dir`` at startup, reloaded on
SIGHUP or ``POST /api/v1/admin/ivr/reload``, the runner under ``app[IVR_RUNNER]``.

A folder with errors loads nothing: at startup the server runs without flows (chat shows
its topic list, calls find no flow) and logs every problem; on reload the previous flows
stay. Flow phrases are checked against the recognizer's vocabulary when a model is loaded
(unknown words are warnings).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import msgspec
from aiohttp import web

from callcenter.appkeys import CONFIG, CRM_ANSWERS, CRM_DIRECTORY, RECOGNIZER
from callcenter.auth.guard import api_route, encode, require_role
from callcenter.auth.store import Principal
from callcenter.config.sections import CenterConfig
from callcenter.core.api import Operation
from callcenter.core.errors import ConfigError
from callcenter.ivr.loader import FlowSet, load_center_flows
from callcenter.ports.recognition import SpeechRecognizer
from callcenter.runtime.ivr_runner.keys import IVR_RUNNER
from callcenter.runtime.ivr_runner.runner import IvrRunner
from callcenter.runtime.keys import CENTER

log = logging.getLogger(__name__)

NO_FLOWS = FlowSet(flows={}, entries={})


def reload_flows(
    runner: IvrRunner, config: CenterConfig, recognizer: SpeechRecognizer | None = None
) -> list[str]:
    """Load ``config.ivr_dir`` again; on errors keep the running flows and return them
    (``file:line: field: message``); an empty list means the new flows run."""
    try:
        flows = load_center_flows(config, _vocabulary(recognizer))
    except ConfigError as exc:
        log.error("IVR flows not reloaded, the previous %d flows stay:\n%s", len(runner.flows), exc)
        return list(exc.problems)
    runner.replace_flows(flows)
    log.info("IVR flows reloaded: %s", ", ".join(f.name for f in flows) or "none")
    return []


def install(app: web.Application) -> None:
    """``POST /api/v1/admin/ivr/reload`` (admins): the same reload as SIGHUP."""
    api_route(app, RELOAD, reload_route)


class IvrReload(msgspec.Struct, frozen=True, kw_only=True):
    reloaded: bool
    flows: list[str]
    warnings: list[str]
    problems: Annotated[list[str], msgspec.Meta(description="file:line: field: message")]


@require_role("admin")
async def reload_route(request: web.Request, principal: Principal) -> web.Response:
    app = request.app
    runner = app[IVR_RUNNER]
    problems = reload_flows(runner, app[CONFIG], app.get(RECOGNIZER))
    body = IvrReload(
        reloaded=not problems,
        flows=sorted(f.name for f in runner.flows),
        warnings=list(runner.flows.warnings),
        problems=problems,
    )
    log.info("IVR reload asked by %s: %s", principal.username, "done" if not problems else "refused")
    return encode(body, 422 if problems else 200)


RELOAD = Operation(
    method="POST",
    path="/api/v1/admin/ivr/reload",
    summary="Reload the IVR flows (as SIGHUP does); on errors the running flows stay",
    tag="admin",
    who=("admin",),
    response=IvrReload,
    also={422: "the flows have errors (listed in problems); the previous flows keep running"},
)


async def ivr_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    try:
        flows = load_center_flows(config, _vocabulary(app.get(RECOGNIZER)))
    except ConfigError as exc:
        log.error("IVR flows in %s did not load; running without IVR:\n%s", config.ivr_dir, exc)
        flows = NO_FLOWS
    center = app[CENTER]
    store = app.get(CRM_ANSWERS)  # self-service answers and PIN / date of birth checks
    runner = IvrRunner(
        center, flows, directory=lambda: app.get(CRM_DIRECTORY), answers=store, credentials=store
    )
    app[IVR_RUNNER] = runner
    loop = asyncio.get_running_loop()
    hup = _add_sighup(loop, lambda: reload_flows(runner, app[CONFIG], app.get(RECOGNIZER)))
    yield
    if hup:
        loop.remove_signal_handler(signal.SIGHUP)
    await runner.close()


def _add_sighup(loop: asyncio.AbstractEventLoop, reload: Callable[[], object]) -> bool:
    if not hasattr(signal, "SIGHUP"):
        return False
    try:
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (RuntimeError, ValueError, NotImplementedError):  # not the main thread, or no signals
        return False
    return True


def _vocabulary(recognizer: SpeechRecognizer | None) -> Callable[[str], bool] | None:
    return recognizer.knows if recognizer is not None else None
