"""The pages in Simplified Chinese, in real Chromium: a browser that prefers zh-CN gets the
chat and the login page in it, with no English word left (tests/support/i18n_check.py)
through a whole chat with an agent (driven over the desk's WebSocket); the customer's
switch to English repaints what is shown and is remembered; the page module picks a
language from a browser's tags as the server does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from desk_socket import Desk
from i18n_check import assert_translated, set_language, untranslated

from callcenter.i18n import catalogue

pytestmark = pytest.mark.browser
ZH = catalogue.catalogue("zh-CN")


async def chinese_page(browser: Any, errors: list[str], **options: Any) -> Any:
    context = await browser.new_context(locale="zh-CN", **options)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


async def test_the_check_finds_english_and_spares_user_content(browser: Any) -> None:
    page = await (await browser.new_context()).new_page()
    await page.set_content(
        """<html lang="zh-CN"><head><title>客服 callcenter</title></head><body>
        <h1>你好</h1><p>Hello there</p><p data-user-content>Dana Levi</p>
        <p>已加入 <bdi data-user-content>Alice</bdi> 12:30</p>
        <div hidden>Hidden words</div><p style="display:none">Gone</p>
        <input placeholder="Your name" aria-label="姓名"><button title="End chat">结束</button>
        <select aria-label="语言"><option lang="en">English</option></select>
        <input type="submit" value="Send"></body></html>"""
    )
    assert await untranslated(page) == [
        "p: Hello there",
        "input[placeholder]: Your name",
        "button[title]: End chat",
        "input[value]: Send",
    ]
    await page.context.close()


async def test_a_chat_with_an_agent_in_simplified_chinese(browser: Any, live_server: Any) -> None:
    server = live_server
    errors: list[str] = []
    customer = await chinese_page(browser, errors, viewport={"width": 480, "height": 800})
    await customer.goto(str(server.make_url("/chat")))
    await customer.wait_for_selector("html[lang='zh-CN']", state="attached")
    assert await customer.title() == ZH["chat.page_title"]
    await assert_translated(customer, step="the intro form")

    cases = [["zh-CN", "en"], ["zh"], ["zh-Hans"], ["zh-TW"], ["fr", "zh"], ["en-GB", "zh"], ["de"], []]
    picked = await customer.evaluate(
        "async (cases) => { const m = await import('/static/i18n/i18n.js');"
        " return cases.map((tags) => m.resolve(tags, ['en', 'zh-CN'])); }",
        cases,
    )
    assert picked == [catalogue.resolve(tags) for tags in cases]

    await customer.fill("input[name=name]", "Dana Levi")
    await customer.get_by_role("button", name=ZH["chat.start"]).click()
    await customer.wait_for_selector(".bubble.bot:text('What can we help you with?')")  # the flow's words
    await assert_translated(customer, step="the flow's menu")
    await customer.get_by_role("button", name="Lost or stolen card").click()
    await customer.wait_for_selector(
        ".bubble.bot:text('We are connecting you to our cards team right away.')"
    )
    await assert_translated(customer, step="waiting in line")

    desk = await Desk.open(server.make_url("/"), "alice")
    try:
        assert (await desk.ask("set_state", state="ready"))["type"] == "ack"
        offer = await desk.until("offer")
        assert (await desk.ask("accept", offer_id=offer["offer_id"]))["type"] == "ack"
        joined = ZH["chat.note.agent_joined"].replace("{name}", "Alice Cohen")
        await customer.wait_for_selector(f".note:text('{joined}')")
        await customer.fill("#text", "我的卡丢了")
        await customer.press("#text", "Enter")
        said = await desk.ask("chat_send", contact_id=offer["contact_id"], text="I have blocked your card.")
        assert said["type"] == "ack"
        await customer.wait_for_selector(".bubble.agent:text('I have blocked your card.')")
        await assert_translated(customer, step="talking with the agent")

        await customer.get_by_role("combobox", name=ZH["common.language"]).select_option("en")
        await customer.wait_for_selector("html[lang='en']", state="attached")
        await customer.wait_for_selector(".note:text('Alice Cohen joined the chat')")  # repainted
        assert await customer.title() == "Chat with us"
        assert await customer.get_attribute("#text", "placeholder") == "Type a message…"
        await customer.reload()  # the chat resumes, in the language the customer picked
        await customer.wait_for_selector(".note:text('Reconnected')")
        assert await customer.evaluate("document.documentElement.lang") == "en"
        await customer.get_by_role("combobox", name="Language").select_option("zh-CN")
        await customer.wait_for_selector(f".note:text('{ZH['chat.note.reconnected']}')")
        await assert_translated(customer, step="back in Chinese after a reload")

        assert (await desk.ask("end", contact_id=offer["contact_id"]))["type"] == "ack"
        await customer.wait_for_selector(f".note:text('{ZH['chat.note.agent_left']}')")
        await customer.wait_for_selector("#options button[data-key='5']")
        await assert_translated(customer, step="the flow's survey")
        await customer.click("#options button[data-key='5']")
        await customer.wait_for_selector(f".note:text('{ZH['chat.note.ended']}')")
        await assert_translated(customer, step="the chat has ended")
    finally:
        await desk.close()
        await customer.context.close()
    assert errors == []


async def test_the_login_page_in_simplified_chinese(browser: Any, live_server: Any) -> None:
    await set_language(live_server.make_url("/"), "sam", "zh-CN")
    errors: list[str] = []
    page = await chinese_page(browser, errors)
    await page.goto(str(live_server.make_url("/login?next=/api/v1/auth/me")))
    await page.wait_for_selector("html[lang='zh-CN']", state="attached")
    assert await page.title() == ZH["login.page_title"]
    await assert_translated(page, step="the login form")
    await page.get_by_placeholder(ZH["login.username"]).fill("sam")
    await page.get_by_placeholder(ZH["login.password"]).fill("wrong")
    await page.get_by_role("button", name=ZH["login.submit"]).click()
    await page.wait_for_selector(f"#error:text('{ZH['login.error.wrong_credentials']}')")
    await assert_translated(page, step="a wrong password")
    await page.get_by_placeholder(ZH["login.password"]).fill("sam")
    await page.get_by_role("button", name=ZH["login.submit"]).click()
    await page.wait_for_url(lambda url: "/login" not in url)
    me = json.loads(await page.text_content("body") or "{}")
    assert me["user"]["language"] == "zh-CN"  # what the wallboard opens in
    await page.context.close()
    assert errors == []
