"""The IVR runner's app key: chat and voice front-ends start sessions on it."""

from __future__ import annotations

from aiohttp import web

from callcenter.runtime.ivr_runner.runner import IvrRunner

# The IVR runner (``runtime/ivr_runner/install.py``): chat and voice front-ends start sessions on it.
IVR_RUNNER = web.AppKey("ivr_runner", IvrRunner)
