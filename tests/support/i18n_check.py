"""Is a page all in its language? ``untranslated(page)`` walks what a person sees or a
screen reader announces (visible text, the document's title, and the placeholder, title,
aria-label and alt of visible elements, and the value of input buttons) and returns each
text that still holds a Latin letter: in a Simplified Chinese page, an English word left
behind. Text that is somebody's data is exempt: inside an element marked
``data-user-content`` (names, messages, a flow's prompts, what the customer typed), or
inside an element whose ``lang`` is not the page's (a language picker's "English").
Digits, punctuation and the product's name pass, and so do keyboard keys: a key cap
(``<kbd>A</kbd>``) and a shortcut's letter in parentheses ("就绪 (R)"). Use it for any page
(desk, wallboard, chat, login): ``await assert_translated(page, step=...)`` after each step that changes what it
shows. ``set_language(base_url, user, "zh-CN")`` makes a user's desk or wallboard open in it.
"""

from __future__ import annotations

from typing import Any

import aiohttp

ALLOWED = ("callcenter",)

_WALK = r"""
({ allowed }) => {
  const page = (document.documentElement.lang || "").toLowerCase();
  const latin = /[A-Za-z]/;
  const shortcut = /[(\uff08]\s*[A-Z]\s*[)\uff09]/g; // "就绪 (R)": the key's letter, as on the keyboard
  const left = (text) => allowed.reduce((t, word) => t.split(word).join(""), text).replace(shortcut, "");
  const found = [];
  const name = (el) => el.id ? `#${el.id}` : el.tagName.toLowerCase()
    + (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const exempt = (el) => {
    if (el.closest("[data-user-content], kbd")) return true;
    const marked = el.closest("[lang]");
    return marked !== null && marked.lang.toLowerCase() !== page;
  };
  const seen = (el) => el.checkVisibility({ visibilityProperty: true });
  const check = (where, text) => {
    const trimmed = (text || "").trim();
    if (trimmed && latin.test(left(trimmed))) found.push(`${where}: ${trimmed}`);
  };
  check("title", document.title);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || ["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(el.tagName)) continue;
    if (!node.textContent.trim() || exempt(el) || !seen(el)) continue;
    check(name(el), node.textContent);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (exempt(el) || !seen(el)) continue;
    for (const attr of ["placeholder", "title", "aria-label", "alt"]) {
      if (el.hasAttribute(attr)) check(`${name(el)}[${attr}]`, el.getAttribute(attr));
    }
    if (el.matches("input[type=button], input[type=submit], input[type=reset]")) check(`${name(el)}[value]`, el.value);
  }
  return found;
}
"""


async def page_language(page: Any) -> str:
    language: str = await page.evaluate("document.documentElement.lang")
    return language


async def untranslated(page: Any, *, allowed: tuple[str, ...] = ALLOWED) -> list[str]:
    """Each visible or announced text of ``page`` that holds a Latin letter and is not
    user data, as ``"<element>: <text>"`` (empty when the page is all in its language)."""
    found: list[str] = await page.evaluate(_WALK, {"allowed": list(allowed)})
    return found


async def assert_translated(page: Any, language: str = "zh-CN", step: str = "") -> None:
    """The page speaks ``language`` (its ``<html lang>``) and nothing is left untranslated."""
    assert await page_language(page) == language, f"{step}: the page is not in {language}"
    left = await untranslated(page)
    assert left == [], f"{step}: untranslated in {language}: {left}"


async def set_language(base_url: object, user: str, language: str) -> None:
    """Set ``user``'s own language through the API (as their page would), so their desk
    or wallboard opens in it; the demo's password is the user name."""
    async with aiohttp.ClientSession(
        base_url=str(base_url), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        res = await http.post("/api/v1/auth/login", json={"username": user, "password": user})
        assert res.status == 200, await res.text()
        csrf = (await res.json())["csrf_token"]
        res = await http.patch("/api/v1/auth/me", json={"language": language}, headers={"X-CSRF-Token": csrf})
        assert res.status == 200, await res.text()
