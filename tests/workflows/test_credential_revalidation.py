"""The daily re-validation of exchange keys, on the real dev server against the Binance sim."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.worker import Worker

from adapters.credentials import CredentialService, Keys, VenueUnavailable, _context, reseal_all
from adapters.db.models import ExchangeCredential, User
from adapters.exchanges.factory import ExchangeFactory
from adapters.settings import Settings
from adapters.vault import Vault, new_key, parse_keys
from domain.accounts import CredentialStatus
from tests.exchanges.conftest_binance import BinanceSim, SimFactory
from workers.schedules import CREDENTIAL_REVALIDATION, ensure_schedules
from workers.worker import WorkerDeps, maintenance_activities
from workflows import TaskQueue
from workflows.maintenance import CredentialRevalidationWorkflow, RevalidationProgress


async def add_user(db: AsyncSession) -> uuid.UUID:
    user = User(email=f"{uuid.uuid4().hex[:8]}@example.com", name="T", password_hash="x")
    db.add(user)
    await db.flush()
    return user.id


def sealed(
    vault: Vault, user_id: uuid.UUID, keys: Keys, status: CredentialStatus
) -> ExchangeCredential:
    now = datetime.now(UTC)
    return ExchangeCredential(
        user_id=user_id,
        exchange="binance",
        api_key_sealed=vault.seal(keys.api_key, _context(user_id, "binance", "api_key")),
        api_secret_sealed=vault.seal(keys.api_secret, _context(user_id, "binance", "api_secret")),
        key_version=vault.active_version,
        api_key_last4=keys.api_key[-4:],
        status=status,
        validated_at=now,
    )


@pytest.fixture
async def maintenance_queue(
    temporal: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    binance_sim: BinanceSim,
) -> AsyncIterator[str]:
    """A maintenance worker of its own whose Binance adapter talks to the simulator."""
    local = settings.model_copy(update={"binance_base_url": binance_sim.base_url})
    queue = f"maintenance-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        temporal,
        task_queue=queue,
        workflows=[CredentialRevalidationWorkflow],
        activities=maintenance_activities(WorkerDeps.build(local, sessions, temporal)),
    )
    async with worker:
        yield queue


async def test_revalidation_marks_refused_keys_invalid_and_keeps_good_ones(
    temporal: Client,
    settings: Settings,
    db: AsyncSession,
    binance_sim: BinanceSim,
    maintenance_queue: str,
) -> None:
    vault = Vault(settings.credential_keys)
    key, secret = await binance_sim.account(BRL="10")
    good_owner, broken_owner = await add_user(db), await add_user(db)
    db.add(sealed(vault, good_owner, Keys(key, secret), CredentialStatus.INVALID))
    db.add(sealed(vault, broken_owner, Keys(key, "revoked-secret"), CredentialStatus.VALID))
    await db.commit()

    result = await temporal.execute_workflow(
        CredentialRevalidationWorkflow.run,
        RevalidationProgress(),
        id=f"revalidation-test-{uuid.uuid4().hex[:8]}",
        task_queue=maintenance_queue,
    )
    assert (result.valid, result.invalid, result.unreachable) == (1, 1, 0)
    rows = {
        row.user_id: row
        for row in (
            await db.scalars(select(ExchangeCredential).execution_options(populate_existing=True))
        ).all()
    }
    assert rows[good_owner].status == CredentialStatus.VALID
    assert rows[broken_owner].status == CredentialStatus.INVALID
    assert rows[broken_owner].last_error


async def test_schedule_is_created_once_and_runs_the_revalidation_daily(temporal: Client) -> None:
    await ensure_schedules(temporal)
    await ensure_schedules(temporal)  # a restarted worker updates, never fails
    description = await temporal.get_schedule_handle(CREDENTIAL_REVALIDATION).describe()
    upcoming = description.info.next_action_times[:2]
    assert [(t.hour, t.minute, t.tzinfo is not None) for t in upcoming] == [(6, 0, True)] * 2
    assert (upcoming[1] - upcoming[0]).days == 1
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "CredentialRevalidationWorkflow"
    assert action.task_queue == TaskQueue.MAINTENANCE


async def test_key_rotation_reseals_every_credential(
    db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    old_key, new = new_key(), new_key()
    before = Vault(parse_keys(f"1:{old_key}"))
    owner = await add_user(db)
    db.add(
        sealed(before, owner, Keys("rotate-key-1234", "rotate-secret-5678"), CredentialStatus.VALID)
    )
    await db.commit()

    after = Vault(parse_keys(f"1:{old_key},2:{new}"))
    assert await reseal_all(sessions, after) == 1
    assert await reseal_all(sessions, after) == 0  # idempotent

    row = (
        await db.scalars(select(ExchangeCredential).execution_options(populate_existing=True))
    ).one()
    assert row.key_version == 2
    only_new = Vault(parse_keys(f"2:{new}"))
    context = _context(owner, "binance", "api_secret")
    assert only_new.open(row.api_secret_sealed, context) == "rotate-secret-5678"


async def test_binance_firewall_403_never_marks_a_key_invalid(
    settings: Settings, db: AsyncSession, binance_sim_factory: SimFactory
) -> None:
    """Binance's 403 is its web application firewall: the key is not asked about, so it keeps
    its status; the venue's own refusal (-2015) still marks it invalid."""
    sim = binance_sim_factory()
    factory = ExchangeFactory(settings.model_copy(update={"binance_base_url": sim.base_url}))
    vault = Vault(settings.credential_keys)
    key, secret = await sim.account(BRL="10")
    good, revoked = await add_user(db), await add_user(db)
    db.add(sealed(vault, good, Keys(key, secret), CredentialStatus.VALID))
    db.add(sealed(vault, revoked, Keys(key, "revoked-secret"), CredentialStatus.VALID))
    await db.commit()
    rows = (await db.scalars(select(ExchangeCredential))).all()
    ids = {row.user_id: row.id for row in rows if row.user_id in (good, revoked)}
    service = CredentialService(db, vault, factory, retry=False)
    now = datetime.now(UTC)
    for owner in (good, revoked):
        await sim.fault(path="/api/v3/account", status=403)
        with pytest.raises(VenueUnavailable):
            await service.revalidate(ids[owner], now)
        stored = await db.get(ExchangeCredential, ids[owner], populate_existing=True)
        assert stored is not None and stored.status == CredentialStatus.VALID
    assert await service.revalidate(ids[good], now) == CredentialStatus.VALID
    assert await service.revalidate(ids[revoked], now) == CredentialStatus.INVALID
    assert (await sim.stats())["statuses"]["403"] == 2
