"""The trader's journey in a real browser against a real `crypteras up`: sign up, open a paper
market, start a CONTINUOUS SmartBot and watch it trade on its chart, pause it, upgrade to PRO
through the Stripe simulator's checkout page, backtest the SmartBot, create a DCA bot, log out
and in. Then the
hostile cases: a session that can no longer be refreshed, and another user's bot by URL."""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.conftest import STRONG_PASSWORD
from tests.e2e.browser import DESKTOP, chromium, shoot
from tests.e2e.conftest import CRYPTERAS, port_of, stack_ports, wait_started

pytestmark = [pytest.mark.e2e, pytest.mark.once]
WAIT_MS = 60_000  # a bot's first fill, a webhook's plan change: seconds, bounded generously


@pytest.fixture
async def app_url(tmp_path: Path, stack_env: dict[str, str]) -> AsyncIterator[str]:
    ports = stack_ports()
    log_path = tmp_path / "up.log"
    argv = [*CRYPTERAS, "up", "--state-dir", str(tmp_path / "state"), *ports]
    with log_path.open("wb") as log:
        up = subprocess.Popen(argv, env=stack_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        await wait_started(log_path, up)
        yield f"http://127.0.0.1:{port_of(ports, '--api-port')}"
    finally:
        up.terminate()
        up.wait(timeout=60)


async def sign_up(page: Page, app: str, email: str) -> None:
    await page.goto(f"{app}/app/")
    await expect(page).to_have_url(re.compile(r"/app/login"))
    await page.get_by_role("link", name="Criar conta").click()
    await page.get_by_label("Nome", exact=True).fill("Ana Trader")
    await page.get_by_label("E-mail", exact=True).fill(email)
    await page.get_by_label("Senha", exact=True).fill(STRONG_PASSWORD)
    await page.get_by_role("checkbox", name="Termos de Uso").check()
    await page.get_by_role("checkbox", name="Política de Privacidade").check()
    await page.get_by_role("button", name="Criar conta").click()
    await expect(page.get_by_role("heading", name="Painel")).to_be_visible()


async def log_in(page: Page, email: str) -> None:
    await page.get_by_label("E-mail", exact=True).fill(email)
    await page.get_by_label("Senha", exact=True).fill(STRONG_PASSWORD)
    await page.get_by_role("button", name="Entrar").click()


async def open_paper_market(page: Page, symbol: str) -> None:
    await page.get_by_role("link", name="Mercados").click()
    await expect(page.get_by_role("heading", name="Mercados")).to_be_visible()
    await page.get_by_label("Corretora", exact=True).select_option("paper")
    await page.get_by_label("Mercado", exact=True).select_option(symbol)
    await page.get_by_role("button", name="Abrir mercado").click()
    await expect(page.get_by_role("cell", name=symbol, exact=True)).to_be_visible()


async def new_bot(
    page: Page,
    kind: str,
    fields: dict[str, str],
    refused: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> None:
    """Through the wizard; `refused` fields are tried first, and the API's refusal, naming
    them, must show before the wizard goes back to put `fields` right. With `problems`, the
    settings step is shot and checked too."""
    await page.get_by_role("link", name="Robôs").click()
    await page.get_by_role("link", name="Novo robô").click()
    await expect(page.get_by_role("heading", name="Novo robô")).to_be_visible()
    await page.get_by_label(kind).check()
    await page.get_by_role("button", name="Avançar").click()
    if problems is not None:
        problems += await shoot(page, "wizard")
    for attempt in ([{**fields, **refused}] if refused else []) + [fields]:
        for label, value in attempt.items():
            await page.get_by_label(label, exact=True).fill(value)
        await page.get_by_role("button", name="Avançar").click()
        await page.get_by_role("button", name="Criar e iniciar").click()
        if attempt is not fields:
            await expect(page.get_by_role("alert")).to_contain_text("order_amount")
            await page.get_by_role("button", name="Voltar").click()
    await expect(page.get_by_test_id("bot-status")).to_have_text("Operando")


async def test_the_traders_journey(app_url: str) -> None:
    email = "journey@example.com"
    async with chromium() as browser:
        page = await browser.new_page(viewport=DESKTOP)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "console",
            lambda message: (
                problems.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )

        await page.goto(f"{app_url}/app/signup")
        problems += await shoot(page, "signup")
        await sign_up(page, app_url, email)
        problems += await shoot(page, "dashboard")
        await open_paper_market(page, "BTC-BRL")
        problems += await shoot(page, "markets")

        await new_bot(
            page,
            "SmartBot",
            {"A cada (segundos)": "10", "Cada ordem (BRL)": "50", "Alocado (BRL)": "1000"},
            refused={"Cada ordem (BRL)": "0"},
            problems=problems,
        )
        orders = page.get_by_test_id("orders-table").locator("tbody tr")
        await expect(orders.first).to_contain_text("Executada", timeout=WAIT_MS)
        chart = page.get_by_test_id("candle-chart")
        await expect(chart).not_to_have_attribute("data-markers", "0", timeout=WAIT_MS)
        problems += await shoot(page, "bot")
        # Why the order was made: its creation context, opened from its row.
        await orders.first.get_by_role("button", name="Por quê").click()
        await expect(page.locator("pre")).to_contain_text("smart")

        await page.get_by_role("button", name="Pausar").click()
        await expect(page.get_by_test_id("bot-status")).to_have_text("Pausado")
        await expect(page.get_by_text("Pausado por você")).to_be_visible()

        await page.get_by_role("link", name="Plano").click()
        await expect(page.get_by_test_id("current-plan")).to_contain_text("FREE")
        problems += await shoot(page, "plans")
        await page.get_by_role("button", name="Assinar Pro").click()
        await expect(page).to_have_title(re.compile("Stripe Checkout"))
        await page.get_by_role("button", name="Pay").click()
        await expect(page).to_have_url(re.compile(r"/app/plans\?checkout=paid"))
        await expect(page.get_by_test_id("current-plan")).to_contain_text("PRO", timeout=WAIT_MS)

        # A backtest of the SmartBot over its market's past week, on the PRO plan.
        await page.get_by_role("link", name="Backtests").click()
        await expect(page.get_by_role("heading", name="Backtests")).to_be_visible()
        await page.get_by_label("Tempo gráfico", exact=True).select_option("15m")
        await page.get_by_label("De", exact=True).fill(f"{date.today() - timedelta(days=7)}")
        await page.get_by_role("button", name="Rodar backtest").click()
        result = page.get_by_role("region", name="Resultado")
        await expect(result).to_contain_text("Pronto", timeout=WAIT_MS)
        await expect(result.get_by_role("img", name="Patrimônio")).to_be_visible()
        problems += await shoot(page, "backtests")

        await new_bot(page, "Robô DCA", {"Cada compra": "100", "Alocado (BRL)": "1200"})
        await expect(page.get_by_role("heading", name="Robô DCA BTC-BRL")).to_be_visible()
        for name, path in (("bots", "/app/bots"), ("orders", "/app/orders"), ("keys", "/app/keys")):
            await page.goto(f"{app_url}{path}")
            problems += await shoot(page, name)
        await page.goto(f"{app_url}/app/account")
        await expect(page.get_by_text(email)).to_be_visible()
        problems += await shoot(page, "account")

        await page.get_by_role("button", name="Sair").click()
        await expect(page).to_have_url(re.compile(r"/app/login"))
        await page.goto(f"{app_url}/app/bots")
        await expect(page).to_have_url(re.compile(r"/app/login\?next=(/|%2F)bots"))
        await log_in(page, email)
        await expect(page.get_by_role("heading", name="Robôs")).to_be_visible()
        problems += await shoot(page, "login")

        # In English, kept across a reload; reais still in the market's format.
        await page.get_by_label("Idioma").select_option("en")
        await expect(page.get_by_role("heading", name="Bots", exact=True)).to_be_visible()
        await page.reload()
        await expect(page.get_by_text("Realized: R$0.00").first).to_be_visible()
        assert await page.evaluate("document.documentElement.lang") == "en"
        problems += await shoot(page, "bots-english")
        assert problems == []


async def test_an_ended_session_logs_in_and_comes_back_and_another_users_bot_stays_hidden(
    app_url: str,
) -> None:
    async with chromium() as browser:
        owner = await browser.new_page(viewport=DESKTOP)
        await sign_up(owner, app_url, "owner@example.com")
        await open_paper_market(owner, "ETH-BTC")
        await new_bot(
            owner,
            "SmartBot",
            {"A cada (segundos)": "3600", "Cada ordem (BTC)": "0.001", "Alocado (BTC)": "0.01"},
        )
        bot_path = owner.url.removeprefix(app_url)

        # The session ends where the user cannot see it (refresh token revoked elsewhere).
        await owner.evaluate("localStorage.setItem('crypteras.refresh', 'revoked')")
        await owner.goto(f"{app_url}/app/orders")
        await expect(owner).to_have_url(re.compile(r"/app/login\?next=(/|%2F)orders"))
        await log_in(owner, "owner@example.com")
        await expect(owner).to_have_url(f"{app_url}/app/orders")

        intruder = await (await browser.new_context(viewport=DESKTOP)).new_page()
        await sign_up(intruder, app_url, "intruder@example.com")
        await intruder.goto(f"{app_url}{bot_path}")
        await expect(intruder.get_by_role("alert")).to_be_visible()
        assert "0.001" not in await intruder.content()
        await expect(intruder.get_by_role("button", name="Pausar")).to_have_count(0)
