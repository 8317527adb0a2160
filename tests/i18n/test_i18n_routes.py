"""The catalogues as browsers get them: the list of languages, one language's messages
(exactly the shipped file), a clear 404 for a language without one, and the page module."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from demo_center import demo_config

from callcenter.app import create_app
from callcenter.core.clock import VirtualClock
from callcenter.i18n import catalogue

Client = TestClient[Any, Any]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], sqlite_url: str) -> Client:
    result: Client = await aiohttp_client(
        create_app(demo_config(sqlite_url), clock=VirtualClock(1_750_000_000.0))
    )
    return result


async def test_anyone_gets_the_languages_and_each_catalogue(client: Client) -> None:
    res = await client.get("/api/v1/i18n")
    assert res.status == 200 and res.headers["Cache-Control"] == "no-cache"
    assert await res.json() == {
        "default": "en",
        "languages": [{"code": "en", "name": "English"}, {"code": "zh-CN", "name": "简体中文"}],
    }
    for language in ("en", "zh-CN"):
        res = await client.get(f"/api/v1/i18n/{language}")
        assert res.status == 200
        body = await res.json()
        shipped = json.loads((catalogue.CATALOGUES / f"{language}.json").read_text(encoding="utf-8"))
        assert body == {"language": language, "messages": shipped}


@pytest.mark.parametrize("language", ["fr", "zh-cn", "..%2Fen", "en.json", "x" * 300])
async def test_a_language_without_a_catalogue_is_a_404_naming_it(client: Client, language: str) -> None:
    res = await client.get(f"/api/v1/i18n/{language}")
    body = await res.json()
    assert res.status == 404
    assert body["error"]["field"] == "language"
    assert "(shipped: en, zh-CN)" in body["error"]["message"]
    assert len(body["error"]["message"]) < 120  # a long one is cut short


async def test_the_page_module_is_served(client: Client) -> None:
    res = await client.get("/static/i18n/i18n.js")
    assert res.status == 200 and "javascript" in res.headers["Content-Type"]
    assert "export function t(" in await res.text()
