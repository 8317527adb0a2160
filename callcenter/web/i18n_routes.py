"""The catalogues for browsers: ``GET /api/v1/i18n`` (the shipped languages, each named in
itself) and ``GET /api/v1/i18n/{language}`` (one language's messages; 404 naming the
language when none is shipped), and the page module at ``/static/i18n/i18n.js``. Anyone may
read them: they are the words of the pages, no one's data."""

from __future__ import annotations

from pathlib import Path

import msgspec
from aiohttp import web

from callcenter.auth.guard import api_route, encode, json_error
from callcenter.core.api import Operation, Param
from callcenter.i18n import catalogue

STATIC = Path(catalogue.__file__).with_name("static")  # the page module ships with the catalogues
CACHE = {"Cache-Control": "no-cache"}  # revalidated, so an upgrade's new words are seen


class LanguageName(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str


class Languages(msgspec.Struct, frozen=True, kw_only=True):
    default: str
    languages: list[LanguageName]


class Catalogue(msgspec.Struct, frozen=True, kw_only=True):
    language: str
    messages: dict[str, str]


def install(app: web.Application) -> None:
    api_route(app, LIST, list_languages)
    api_route(app, ONE, one_catalogue)
    app.router.add_static("/static/i18n", STATIC)


async def list_languages(request: web.Request) -> web.Response:
    names = catalogue.language_names()
    body = Languages(
        default=catalogue.DEFAULT, languages=[LanguageName(code=c, name=n) for c, n in names.items()]
    )
    response = encode(body)
    response.headers.update(CACHE)
    return response


async def one_catalogue(request: web.Request) -> web.Response:
    language = request.match_info["language"]
    try:
        messages = catalogue.catalogue(language)
    except catalogue.UnknownLanguage as exc:
        return json_error(404, str(exc), "language")
    response = encode(Catalogue(language=language, messages=dict(messages)))
    response.headers.update(CACHE)
    return response


LIST = Operation(
    method="GET",
    path="/api/v1/i18n",
    summary="The languages the pages are translated into",
    tag="i18n",
    who=("anyone",),
    response=Languages,
)
ONE = Operation(
    method="GET",
    path="/api/v1/i18n/{language}",
    summary="One language's message catalogue (the pages' words)",
    tag="i18n",
    who=("anyone",),
    params=(Param(name="language", description="a shipped language code, like en or zh-CN", where="path"),),
    response=Catalogue,
    errors={404: "no catalogue is shipped for that language"},
)
