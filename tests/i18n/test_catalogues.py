"""The message catalogues are sound (every language holds English's keys, with the same
placeholders), the pages and the server use only keys the catalogues hold, and every key
the catalogues hold is used somewhere; a browser's preferred tags pick the right language."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.i18n import catalogue

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "callcenter"
# A key in a page or in Python: a quoted literal of the catalogues' shape (keys are always
# written out whole, never assembled, so this finds each one; docs/i18n.md).
QUOTED_KEY = re.compile(
    r"""["'`]((?:common|chat|desk|wallboard|reports|recordings|login)(?:\.[a-z0-9_]+)+)["'`]"""
)


@pytest.fixture
def catalogues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Catalogues of the test's own (the caches are emptied before and after)."""
    monkeypatch.setattr(catalogue, "CATALOGUES", tmp_path)
    catalogue.languages.cache_clear()
    catalogue.catalogue.cache_clear()
    yield tmp_path
    catalogue.languages.cache_clear()
    catalogue.catalogue.cache_clear()


def write(folder: Path, language: str, messages: dict[str, str]) -> None:
    (folder / f"{language}.json").write_text(json.dumps(messages, ensure_ascii=False), encoding="utf-8")


def test_the_shipped_catalogues_are_english_and_simplified_chinese_and_sound() -> None:
    assert catalogue.languages() == ("en", "zh-CN")
    assert catalogue.problems() == []
    assert catalogue.language_names() == {"en": "English", "zh-CN": "简体中文"}
    assert catalogue.text("zh-CN", "chat.note.agent_joined", name="Alice") == "Alice 已加入对话"
    assert catalogue.english("chat.server.contact_us_at", uri="tel:+100") == "Please contact us at tel:+100."


def test_a_broken_catalogue_is_reported_key_by_key(catalogues: Path) -> None:
    write(catalogues, "en", {"chat.hello": "Hello {name}", "chat.bye": "Bye", "Chat Title": "x"})
    write(catalogues, "fr", {"chat.hello": "Bonjour {nom}", "chat.extra": "En plus", "Chat Title": " "})
    assert catalogue.languages() == ("en", "fr")
    assert catalogue.problems() == [
        "en: key 'Chat Title' is not <face>.<name>[.<name>...]",
        "fr: missing 'chat.bye'",
        "fr: 'chat.extra' is not in en",
        "fr: 'Chat Title' is blank",
        "fr: 'chat.hello' has placeholders other than en's (name)",
    ]


def test_an_unknown_language_is_refused_naming_the_shipped_ones() -> None:
    with pytest.raises(catalogue.UnknownLanguage, match=r"'fr' \(shipped: en, zh-CN\)"):
        catalogue.catalogue("fr")
    with pytest.raises(ValueError, match=r"'\.\./en'"):
        catalogue.check_language("../en")


@pytest.mark.parametrize(
    ("tags", "language"),
    [
        (["zh-CN", "en"], "zh-CN"),
        (["zh"], "zh-CN"),
        (["zh-Hans"], "zh-CN"),
        (["zh-Hans-CN"], "zh-CN"),
        (["ZH-cn"], "zh-CN"),
        (["zh-TW"], "zh-CN"),
        (["fr-FR", "zh"], "zh-CN"),
        (["en-GB", "zh-CN"], "en"),
        (["fr", "de"], "en"),
        ([], "en"),
    ],
)
def test_a_browsers_preferred_tags_pick_a_shipped_language(tags: list[str], language: str) -> None:
    assert catalogue.resolve(tags) == language


def sources() -> Iterator[Path]:
    """The pages (static HTML and scripts of every face) and the Python that sends keys."""
    for path in sorted(PACKAGE.rglob("*")):
        if ("static" in path.parts and path.suffix in (".html", ".js")) or (
            path.suffix == ".py"
            and (PACKAGE / "i18n" in path.parents or "callcenter.i18n" in path.read_text(encoding="utf-8"))
        ):
            yield path


def used_keys() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sources():
        for key in QUOTED_KEY.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_key_the_pages_and_the_server_use_is_in_the_catalogues() -> None:
    used = used_keys()
    assert len(used) > 40
    missing = {key: where for key, where in used.items() if key not in catalogue.catalogue("en")}
    assert missing == {}


def test_every_key_in_the_catalogues_is_used() -> None:
    unused = sorted(set(catalogue.catalogue("en")) - set(used_keys()))
    assert unused == []


CONVERTED = (
    PACKAGE / "chat" / "static" / "chat.html",
    PACKAGE / "auth" / "static" / "login.html",
    PACKAGE / "agent_desk" / "static" / "desk.html",
    PACKAGE / "supervisor" / "static" / "wallboard" / "wallboard.html",
    PACKAGE / "supervisor" / "static" / "reports" / "reports.html",
    PACKAGE / "supervisor" / "static" / "reports" / "staffing.html",
)


@pytest.mark.parametrize("page", CONVERTED, ids=[p.name for p in CONVERTED])
def test_the_converted_pages_name_every_word_by_key(page: Path) -> None:
    """Text in the static HTML of the converted pages sits in an element with data-i18n
    (what the page shows before its catalogue arrives is the English of that key), and
    each label, title and placeholder has its data-i18n-* key. A key cap (<kbd>A</kbd>) is
    the keyboard's and a file format's column names (<code>interval,calls</code>) the
    format's, not words."""
    english = catalogue.catalogue("en")
    html = page.read_text(encoding="utf-8")
    for key, shown in re.findall(r'data-i18n="([^"]+)"[^>]*>([^<]*)<', html):
        assert shown == english[key], f"{page.name}: {key}"
    body = re.sub(r"<(script|style|kbd|code)\b.*?</\1>", "", html, flags=re.S)
    loose = [
        text.strip()
        for text in re.findall(r">([^<]+)<", body)
        if re.search(r"[A-Za-z]", text) and text.strip() not in english.values()
    ]
    assert loose == [], f"{page.name}: words without a key"
    for tag in re.findall(r"<[a-z]+\b[^>]*>", html):
        for attr in ("aria-label", "title", "placeholder", "alt"):
            if re.search(rf'\s{attr}="', tag):
                assert f"data-i18n-{attr}=" in tag, f"{page.name}: {attr} without a key in {tag}"
