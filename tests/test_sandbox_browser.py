"""The sandbox page in a real browser (Debian's Chromium, driven by Playwright): a staff member asks a
question, sees the answer as Slack shows it, clicks a related topic, edits the content file and sees the
change. Takes the screenshot the staff guide shows: `make screenshot` (UPDATE_SCREENSHOT=1) writes it to
docs/images/sandbox.png; any other run writes it to a temporary folder, so tests leave the checkout as it was."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_DIR
from devtools.sandbox.web import SandboxServer
from tests.conftest import copy_content

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = PROJECT_DIR / "docs" / "images" / "sandbox.png"
QUESTION = "tell me about the action learning sets"
ALS = "offer_action_learning_sets"
# No GPU, no sandboxing (CI runs as root), and nothing that reaches out to the network by itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium to run the browser test", allow_module_level=True)

from playwright.async_api import Browser, Page, async_playwright, expect  # noqa: E402


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[SandboxServer, Path]]:
    path = copy_content(tmp_path)
    server = SandboxServer(path, port=0)
    await server.start()
    yield server, path
    await server.stop()


async def _ask(page: Page, question: str) -> None:
    await page.fill("#message-input", question)
    await page.press("#message-input", "Enter")


async def test_a_staff_member_asks_clicks_a_topic_and_sees_a_saved_change(
    browser: Browser, sandbox: tuple[SandboxServer, Path], tmp_path: Path
) -> None:
    server, path = sandbox
    catalogue = server.sandbox.services.content.current.catalogue
    intent = catalogue.get(ALS)
    assert intent is not None
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(server.url)

    await _ask(page, QUESTION)
    answer = page.locator(".message.bot").last
    await expect(answer.locator(".bk-header")).to_have_text(intent.title, timeout=10_000)
    section = answer.locator(".bk-section").first
    # Bold is bold, not asterisks; a link in the text is a link.
    assert await section.locator("b").count() >= 1
    assert "*" not in await section.inner_text()
    source = answer.locator(".bk-context a.link").first
    assert (await source.get_attribute("href") or "").startswith("https://")
    await expect(page.locator(".why").last).to_contain_text(ALS)
    await expect(page.locator(".why").last).to_contain_text("best example")

    related = catalogue.get(intent.related[0])
    assert related is not None
    await answer.locator(".bk-actions .bk-btn", has_text=related.title).first.click()
    await expect(page.locator(".message.bot").last.locator(".bk-header")).to_have_text(related.title, timeout=10_000)

    text = path.read_text(encoding="utf-8")
    edited = "Action learning sets, as edited in the sandbox"
    path.write_text(text.replace(f"title: {intent.title}\n", f"title: {edited}\n", 1), encoding="utf-8")
    await _ask(page, QUESTION)
    await expect(page.locator(".message.bot").last.locator(".bk-header")).to_have_text(edited, timeout=10_000)

    # The screenshot for the staff guide: the original answer, as members would see it, with its why panel.
    path.write_text(text, encoding="utf-8")
    await expect(page.locator("#banner")).to_be_hidden()
    await page.wait_for_timeout(1200)  # the content file is polled every 0.5 s
    await _ask(page, QUESTION)
    await expect(page.locator(".message.bot").last.locator(".bk-header")).to_have_text(intent.title, timeout=10_000)
    # The question at the top of the view, its answer below it; the pointer out of the way.
    await page.locator(".message-line").nth(-2).evaluate("node => node.scrollIntoView({block: 'start'})")
    await page.mouse.move(5, 890)
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "sandbox.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 20_000
    assert errors == []


async def test_a_broken_save_shows_the_problems_on_the_page(
    browser: Browser, sandbox: tuple[SandboxServer, Path]
) -> None:
    server, path = sandbox
    page = await browser.new_page()
    await page.goto(server.url)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: ", 'title: "never closed ', 1), encoding="utf-8")
    banner = page.locator("#banner")
    await expect(banner).to_contain_text(f"{path}:", timeout=10_000)
    await expect(banner).to_contain_text("is never closed")
    path.write_text(text, encoding="utf-8")
    await expect(banner).to_be_hidden(timeout=10_000)


async def test_staff_teach_an_unanswered_question_and_the_answer_changes(
    browser: Browser, sandbox: tuple[SandboxServer, Path]
) -> None:
    """View as staff, open the Home, Teach the question the bot could not answer, choose an answer, Save;
    the same question then gets that answer."""
    server, _ = sandbox
    catalogue = server.sandbox.services.content.current.catalogue
    taught = catalogue.get("contact")
    assert taught is not None
    question = "where can I park my bike at the conference venue"
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(server.url)

    await _ask(page, question)
    await expect(page.locator(".message.bot")).to_have_count(1, timeout=10_000)
    await expect(page.locator(".message.bot").last.locator(".bk-header")).to_have_count(0)  # the fallback

    await page.check("#as-staff")
    await page.click("#tabs button[data-tab=home]")
    home = page.locator("#home")
    await expect(home).to_contain_text("Staff view", timeout=10_000)
    group = home.locator(".bk-section", has_text="park my bike")
    await group.locator(".bk-btn", has_text="Teach").click()

    modal = page.locator("#modal")
    await expect(modal).to_be_visible(timeout=10_000)
    await expect(modal.locator("#modal-title")).to_have_text("Teach the bot")
    await expect(modal).to_contain_text(question)
    await modal.locator("select.bk-select").select_option("contact")
    await modal.locator("#modal-submit").click()
    await expect(modal).to_be_hidden(timeout=15_000)
    await expect(home).to_contain_text(f"Taught 1 question as {taught.title}", timeout=10_000)
    assert [d.kind for d in server.sandbox.sent][-1] == "view_submission"

    await page.uncheck("#as-staff")
    await page.click("#tabs button[data-tab=messages]")
    await _ask(page, question)
    await expect(page.locator(".message.bot").last.locator(".bk-header")).to_have_text(taught.title, timeout=10_000)
    assert errors == []
