"""Dependencies routes declare: settings, a unit-of-work session, Temporal, the caller."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.db.engine import shared_read_engine
from adapters.db.models import User
from adapters.exchanges.catalogue import MarketCatalogue
from adapters.exchanges.factory import ExchangeFactory
from adapters.exchanges.prices import MarketPrices
from adapters.payments.gateways import PaymentGateways
from adapters.settings import IPNetwork, Settings
from adapters.vault import Vault
from api.dashboard.cache import BALANCES_TTL_SECONDS, BalanceBook, DashboardCache
from api.errors import ApiError
from api.security import AccessClaims, InvalidToken, decode_access_claims
from api.validation import CONTROL_CHARACTERS


@dataclass(frozen=True)
class Services:
    """What the app holds for its lifetime; built by the lifespan or given by tests."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    temporal: Client
    vault: Vault
    exchanges: ExchangeFactory
    catalogue: MarketCatalogue
    payments: PaymentGateways
    reads: AsyncEngine  # Core reads outside a transaction (api/reads.py)
    prices: MarketPrices  # the dashboard's last prices, shared by every user
    dashboard: DashboardCache
    balances: BalanceBook  # the venues' balances as last read, per user

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        temporal: Client,
        reads: AsyncEngine | None = None,
    ) -> Services:
        """`reads`: the app's read engine; without one, reads share the sessions' pool."""
        exchanges = ExchangeFactory(settings, sessions=sessions)
        return cls(
            settings=settings,
            sessions=sessions,
            temporal=temporal,
            vault=Vault(settings.credential_keys, settings.credentials_key_version),
            exchanges=exchanges,
            catalogue=MarketCatalogue(exchanges),
            payments=PaymentGateways.from_settings(settings),
            reads=reads or shared_read_engine(sessions.kw["bind"]),
            prices=MarketPrices(exchanges),
            dashboard=DashboardCache(settings.dashboard_cache_seconds),
            balances=BalanceBook(BALANCES_TTL_SECONDS),
        )


# Every dependency here is `async def` (FastAPI runs a plain `def` one in the thread pool on
# each request) and reads the app's services straight from the request: each extra level of
# sub-dependencies is solved again on every request.
def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_settings(request: Request) -> Settings:
    return _services(request).settings


async def get_temporal(request: Request) -> Client:
    return _services(request).temporal


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Unit of work at the request edge: commit when the route returns, roll back on error."""
    async with _services(request).sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_vault(request: Request) -> Vault:
    return _services(request).vault


async def get_exchanges(request: Request) -> ExchangeFactory:
    return _services(request).exchanges


async def get_payments(request: Request) -> PaymentGateways:
    return _services(request).payments


async def get_catalogue(request: Request) -> MarketCatalogue:
    return _services(request).catalogue


async def get_prices(request: Request) -> MarketPrices:
    return _services(request).prices


async def get_dashboard_cache(request: Request) -> DashboardCache:
    return _services(request).dashboard


async def get_balance_book(request: Request) -> BalanceBook:
    return _services(request).balances


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[Vault, Depends(get_vault)]
ExchangesDep = Annotated[ExchangeFactory, Depends(get_exchanges)]
CatalogueDep = Annotated[MarketCatalogue, Depends(get_catalogue)]
PricesDep = Annotated[MarketPrices, Depends(get_prices)]
DashboardCacheDep = Annotated[DashboardCache, Depends(get_dashboard_cache)]
BalanceBookDep = Annotated[BalanceBook, Depends(get_balance_book)]
PaymentsDep = Annotated[PaymentGateways, Depends(get_payments)]
# Function scope: the commit happens before the response is sent, so a failed commit is a 5xx
# and never a 2xx for data that was not written.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
TemporalDep = Annotated[Client, Depends(get_temporal)]


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling, as recorded in consents and the audit log."""

    ip: str
    user_agent: str | None


def _valid_ip(value: str | None) -> IPAddress | None:
    """An address as stored: no IPv6 scope id (`fe80::1%eth0` is `fe80::1`, any length of
    scope would overflow the 45-character columns), IPv4-mapped IPv6 as plain IPv4."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(peer: str | None, forwarded_for: str, trusted: tuple[IPNetwork, ...]) -> str:
    """The peer, unless it is a trusted proxy: then the right-most X-Forwarded-For hop that is
    not a trusted proxy (hops left of it are whatever the client chose to send)."""
    address = _valid_ip(peer)
    hops = [hop.strip() for hop in forwarded_for.split(",")] if forwarded_for else []
    while address is not None and any(address in network for network in trusted) and hops:
        hop = _valid_ip(hops.pop())
        if hop is None:  # a garbled hop: stop at the last address we can vouch for
            break
        address = hop
    return str(address) if address is not None else "unknown"


async def get_client_info(request: Request, settings: SettingsDep) -> ClientInfo:
    peer = request.client.host if request.client else None
    forwarded_for = ",".join(request.headers.getlist("x-forwarded-for"))
    user_agent = request.headers.get("user-agent")
    return ClientInfo(
        ip=client_ip(peer, forwarded_for, settings.trusted_proxy_networks),
        # Control characters (NUL breaks PostgreSQL text) have no place in a User-Agent.
        user_agent=user_agent and CONTROL_CHARACTERS.sub("", user_agent)[:512],
    )


ClientInfoDep = Annotated[ClientInfo, Depends(get_client_info)]

# Reads `Authorization: Bearer`; also what puts the bearer scheme in the OpenAPI document.
_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def invalid_token() -> ApiError:
    """The answer for a well-signed token whose user is gone or deleted."""
    return _unauthorized("invalid_token", "The access token is not valid.")


def verified_claims(request: Request, token: str | None) -> AccessClaims:
    """The claims of the request's bearer token, or the 401 that says why there are none."""
    if not token:
        raise _unauthorized(
            "not_authenticated", "Send an access token: Authorization: Bearer <token>."
        )
    try:
        return decode_access_claims(_services(request).settings, token)
    except InvalidToken as exc:
        raise _unauthorized(exc.code, exc.message) from None


def bearer_token(request: Request) -> str | None:
    """What `_bearer` reads, without its per-request model: routes that skip it (as a
    dependency it is solved again on every request) declare `BEARER_SECURITY` instead."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


# The OpenAPI security requirement `_bearer` adds to the routes that depend on it.
BEARER_SECURITY: dict[str, Any] = {"security": [{_bearer.scheme_name: []}]}


async def get_current_user(request: Request, session: SessionDep, credentials: BearerDep) -> User:
    """The caller as an ORM object in the request's session, for routes that change it or
    write on its behalf; read routes take `CallerReadsDep` (api/reads.py) instead."""
    claims = verified_claims(request, credentials.credentials if credentials else None)
    user = await session.get(User, claims.user_id)
    if user is None or user.deleted_at is not None:
        raise invalid_token()
    structlog.contextvars.bind_contextvars(user_id=str(user.id))
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def utcnow() -> datetime:
    return datetime.now(UTC)
