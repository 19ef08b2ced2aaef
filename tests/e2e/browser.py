"""Debian's Chromium driven by Playwright; the page shots the journey leaves as artifacts
(WEB_ARTIFACTS, default .artifacts/web), each page at a desktop and a phone width; and each
page's accessibility problems as axe-core (the web app's dev dependency) finds them."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

# Chromium's own network chatter is refused by closed build machines; these keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(os.environ.get("WEB_ARTIFACTS", ".artifacts/web"))
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 A and AA: labels, names, roles, contrast, language.
AXE_RUN = """async () => {
  const only = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
  const result = await axe.run(document, { runOnly: only });
  return result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(", ")}`
  );
}"""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def shoot(page: Page, name: str) -> list[str]:
    """The page as it is now, at both widths, then back at the desktop's; answers what axe
    finds wrong at each width."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await page.screenshot(path=ARTIFACTS / f"{name}-{label}.png", full_page=True)
        problems += [f"{name} at {label} width: {p}" for p in await accessibility(page)]
    await page.set_viewport_size(DESKTOP)
    return problems


async def accessibility(page: Page) -> list[str]:
    """axe-core's WCAG A and AA violations. Loaded through the DevTools protocol, which the
    app's CSP (no script but its own) does not govern."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    found: list[str] = await page.evaluate(AXE_RUN)
    return found
