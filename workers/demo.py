"""`crypteras up --demo`: a demo user with a paper trading context and a running CONTINUOUS
SmartBot, made through the API over HTTP once the stack is up, so every rule of the product
applies to it (consents, plan, funds, config validation).

Made once per state folder: `demo.json` there keeps the e-mail, the password and the ids, and a
later `up --demo` reuses them, making again only what is gone (a database emptied, a bot
deleted). The market is ETH-BTC on the paper venue, which replays real candles
(`adapters.exchanges.paper`); the paper account starts with 1 BTC
(`adapters.exchanges.factory.PAPER_STARTING_BALANCES`), of which the bot is allocated 0.2.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

DEMO_FILE = "demo.json"
DEMO_COIN, DEMO_FIAT = "ETH", "BTC"
DEMO_SYMBOL = f"{DEMO_COIN}-{DEMO_FIAT}"
DEMO_BOT_NAME = "Demo: ETH-BTC every 10 s"
# A buy of 0.001 BTC every 10 s (the market's minimum order is 0.0001 BTC): half an hour of
# buys before the allocation is spent, and a take profit near enough for the replayed 5-minute
# candles to reach, so sells show too.
DEMO_BOT_CONFIG: dict[str, Any] = {
    "mode": "CONTINUOUS",
    "interval_seconds": 10,
    "order_amount": "0.001",
    "allocated_balance": "0.2",
    "risk": {"take_profit": {"percent": "1"}},
}
HTTP_TIMEOUT_SECONDS = 30.0


class DemoError(Exception):
    """The demo could not be made; the message is one line."""


@dataclass
class DemoAccount:
    email: str
    password: str
    user_id: str | None = None
    context_id: str | None = None
    bot_id: str | None = None

    @classmethod
    def new(cls) -> DemoAccount:
        # Unique per state folder, so several folders can share one database.
        return cls(
            email=f"demo-{secrets.token_hex(4)}@example.com",
            password=secrets.token_urlsafe(16),
        )


def _load(path: Path) -> DemoAccount | None:
    if not path.exists():
        return None
    try:
        return DemoAccount(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise DemoError(f"{path} is not a demo file ({exc}); remove it to make a new demo") from exc


def _save(path: Path, account: DemoAccount) -> None:
    """Written before each step's request, so a crash never loses the password of a user
    already registered."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(account), indent=2) + "\n")
    partial.chmod(0o600)  # it holds a password
    partial.replace(path)


def _refused(what: str, response: httpx.Response) -> DemoError:
    try:
        error = response.json()["error"]
        reason = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        reason = response.text[:200]
    return DemoError(f"{what} was refused ({response.status_code} {reason})")


async def provision_demo(api_url: str, state_dir: Path) -> DemoAccount:
    """The state folder's demo user, context and running bot: reused when they exist, made
    through the API when not."""
    path = state_dir / DEMO_FILE
    account = _load(path) or DemoAccount.new()
    _save(path, account)
    try:
        async with httpx.AsyncClient(base_url=api_url, timeout=HTTP_TIMEOUT_SECONDS) as http:
            auth = await _user(http, account)
            _save(path, account)
            await _context(http, auth, account)
            _save(path, account)
            await _bot(http, auth, account)
            _save(path, account)
    except httpx.HTTPError as exc:
        raise DemoError(f"the API at {api_url} failed: {exc!r}") from exc
    return account


async def _login(http: httpx.AsyncClient, account: DemoAccount) -> httpx.Response:
    return await http.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )


async def _user(http: httpx.AsyncClient, account: DemoAccount) -> dict[str, str]:
    """Logged in as the demo user, registered first when the database does not know it."""
    login = await _login(http, account)
    if login.status_code == 401:
        registered = await http.post(
            "/api/auth/register",
            json={
                "email": account.email,
                "password": account.password,
                "name": "Demo Trader",
                "terms_accepted": True,
                "privacy_accepted": True,
                "marketing_accepted": False,
            },
        )
        if registered.status_code != 201:
            raise _refused(f"registering {account.email}", registered)
        account.context_id = account.bot_id = None  # a new user owns nothing yet
        login = await _login(http, account)
    if login.status_code != 200:
        raise _refused(f"logging in as {account.email}", login)
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = await http.get("/api/auth/me", headers=auth)
    if me.status_code != 200:
        raise _refused("reading the demo user", me)
    account.user_id = str(me.json()["id"])
    return auth


async def _owned(http: httpx.AsyncClient, auth: dict[str, str], path: str) -> Any:
    """The resource at `path`, or None when it is gone."""
    response = await http.get(path, headers=auth)
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise _refused(f"reading {path}", response)
    return response.json()


async def _context(http: httpx.AsyncClient, auth: dict[str, str], account: DemoAccount) -> None:
    if account.context_id and await _owned(http, auth, f"/api/contexts/{account.context_id}"):
        return
    for context in await _owned(http, auth, "/api/contexts"):
        if context["symbol"] == DEMO_SYMBOL and context["exchange"] == "paper":
            account.context_id = context["id"]
            return
    created = await http.post(
        "/api/contexts",
        json={"coin": DEMO_COIN, "fiat": DEMO_FIAT, "exchange": "paper"},
        headers=auth,
    )
    if created.status_code != 201:
        raise _refused(f"opening the paper context {DEMO_SYMBOL}", created)
    account.context_id = str(created.json()["id"])


async def _bot(http: httpx.AsyncClient, auth: dict[str, str], account: DemoAccount) -> None:
    if account.bot_id and await _owned(http, auth, f"/api/bots/{account.bot_id}"):
        return  # as the user left it (paused or stopped by them stays so)
    for bot in await _owned(http, auth, "/api/bots"):
        if bot["context_id"] == account.context_id and bot["name"] == DEMO_BOT_NAME:
            account.bot_id = bot["id"]
            return
    created = await http.post(
        "/api/bots",
        json={
            "context_id": account.context_id,
            "kind": "smart",
            "name": DEMO_BOT_NAME,
            "config": DEMO_BOT_CONFIG,
        },
        headers=auth,
    )
    if created.status_code != 201:
        raise _refused("creating the demo bot", created)
    account.bot_id = str(created.json()["id"])
