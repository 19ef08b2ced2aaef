from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus

from adapters.db.models import (
    AuditEvent,
    PaymentCustomer,
    PaymentEventRecord,
    TradingContext,
    User,
)
from tests.conftest import assert_error, bearer
from tests.exchanges.conftest_binance import BinanceSim

# The documented export (docs/lgpd-export.md) and the subscription as a user may see it.
EXPORT_SECTIONS = {
    "schema_version",
    "exported_at",
    "profile",
    "consents",
    "sessions",
    "audit_trail",
    "subscription",
    "payment_accounts",
    "payment_events",
    "exchange_credentials",
    "trading_contexts",
    "mails",
}
SUBSCRIPTION_FIELDS = {
    "plan",
    "status",
    "since",
    "provider",
    "current_period_end",
    "cancel_at_period_end",
}


class TestLegalDocuments:
    async def test_terms_and_privacy_are_published_with_versions(
        self, api: httpx.AsyncClient
    ) -> None:
        for path, title in (("terms", "Termos de Uso"), ("privacy", "Política de Privacidade")):
            response = await api.get(f"/api/legal/{path}")
            assert response.status_code == 200
            document = response.json()
            assert document["title"] == title
            assert document["version"] == "2026-11-01"
            assert document["content"].startswith("# ")


class TestConsents:
    async def test_current_consents_and_history(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login(marketing_accepted=True)
        response = await api.get("/api/legal/consents", headers=bearer(tokens))
        assert response.status_code == 200
        consents = response.json()
        assert {k: v["granted"] for k, v in consents["current"].items()} == {
            "terms": True,
            "privacy": True,
            "marketing": True,
        }
        assert consents["current"]["terms"]["document_version"] == "2026-11-01"
        assert len(consents["history"]) == 3

    async def test_marketing_can_be_revoked_and_granted_again(
        self, api: httpx.AsyncClient, login: Callable[..., Any], db: AsyncSession
    ) -> None:
        _, tokens = await login(marketing_accepted=True)
        revoked = await api.post(
            "/api/legal/consents",
            json={"marketing_accepted": False},
            headers={
                **bearer(tokens),
                "User-Agent": "app/2.0",
                "X-Forwarded-For": "192.0.2.8, 10.0.0.1",
            },
        )
        assert revoked.status_code == 200, revoked.text
        marketing = revoked.json()["current"]["marketing"]
        assert marketing["granted"] is False
        # No trusted proxy configured: X-Forwarded-For is ignored (tests/api/test_client_ip.py).
        assert marketing["ip"] == "203.0.113.7"
        assert marketing["user_agent"] == "app/2.0"
        granted = await api.post(
            "/api/legal/consents", json={"marketing_accepted": True}, headers=bearer(tokens)
        )
        assert granted.json()["current"]["marketing"]["granted"] is True
        assert granted.json()["current"]["marketing"]["ip"] == "203.0.113.7"  # the peer
        assert len(granted.json()["history"]) == 5
        actions = (await db.scalars(select(AuditEvent.action))).all()
        assert list(actions).count("consent_changed") == 2

    async def test_repeating_the_same_consent_records_nothing(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login(marketing_accepted=False)
        response = await api.post(
            "/api/legal/consents", json={"marketing_accepted": False}, headers=bearer(tokens)
        )
        assert len(response.json()["history"]) == 3

    async def test_terms_cannot_be_revoked(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login()
        response = await api.post(
            "/api/legal/consents", json={"terms_accepted": False}, headers=bearer(tokens)
        )
        error = assert_error(response, 422, "consent_required")
        assert error["details"]["fields"] == ["terms_accepted"]

    async def test_consents_need_authentication(self, api: httpx.AsyncClient) -> None:
        assert_error(await api.get("/api/legal/consents"), 401, "not_authenticated")


class TestUsersMe:
    async def test_me_shows_the_free_plan_and_the_workflow_runs(
        self, api: httpx.AsyncClient, login: Callable[..., Any], temporal: Client
    ) -> None:
        _, tokens = await login()
        response = await api.get("/api/users/me", headers=bearer(tokens))
        assert response.status_code == 200, response.text
        me = response.json()
        assert me["subscription"]["plan"] == "FREE"
        assert me["subscription"]["status"] == "active"
        handle = temporal.get_workflow_handle(f"subscription:{me['id']}")
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    async def test_me_shows_no_workflow_bookkeeping(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login()
        me = (await api.get("/api/users/me", headers=bearer(tokens))).json()
        assert set(me["subscription"]) == SUBSCRIPTION_FIELDS

    async def test_export_holds_everything_we_hold_and_no_secrets(
        self,
        api: httpx.AsyncClient,
        login: Callable[..., Any],
        db: AsyncSession,
        binance_sim: BinanceSim,
    ) -> None:
        body, tokens = await login(marketing_accepted=True)
        me = (await api.get("/api/auth/me", headers=bearer(tokens))).json()
        user_id = uuid.UUID(me["id"])
        key, secret = await binance_sim.account(BRL="1000")
        saved = await api.post(
            "/api/credentials",
            json={"exchange": "binance", "api_key": key, "api_secret": secret},
            headers=bearer(tokens),
        )
        assert saved.status_code == 201, saved.text
        context = await api.post(
            "/api/contexts",
            json={"coin": "BTC", "fiat": "BRL", "exchange": "paper"},
            headers=bearer(tokens),
        )
        assert context.status_code == 201, context.text
        # What the payment webhooks store about the user (their own tests drive them for real).
        db.add(PaymentCustomer(provider="stripe", customer_id="cus_export", user_id=user_id))
        db.add(
            PaymentEventRecord(
                provider="stripe",
                event_id="evt_export_1",
                type="invoice.paid",
                user_id=user_id,
                outcome="signaled",
            )
        )
        await db.commit()

        response = await api.get("/api/users/me/export", headers=bearer(tokens))
        assert response.status_code == 200, response.text
        export = response.json()
        assert set(export) == EXPORT_SECTIONS
        assert export["schema_version"] == "1"
        assert export["profile"]["email"] == body["email"]
        assert set(export["subscription"]) == SUBSCRIPTION_FIELDS
        assert export["subscription"]["plan"] == "FREE"
        assert len(export["consents"]) == 3
        assert len(export["sessions"]) == 1
        assert [e["action"] for e in export["audit_trail"]] == [
            "register",
            "login_succeeded",
            "credentials_saved",
            "data_exported",
        ]
        [credential] = export["exchange_credentials"]
        assert (credential["exchange"], credential["api_key"]) == ("binance", "••••" + key[-4:])
        assert [c["name"] for c in export["trading_contexts"]] == ["BTC-BRL-Paper"]
        [account] = export["payment_accounts"]
        assert (account["provider"], account["customer_id"]) == ("stripe", "cus_export")
        [event] = export["payment_events"]
        assert set(event) == {"provider", "type", "outcome", "received_at"}
        assert (event["type"], event["outcome"]) == ("invoice.paid", "signaled")
        text = response.text
        for hidden in (
            body["password"],
            tokens["refresh_token"],
            tokens["access_token"],
            "argon2",
            key,
            secret,
            "evt_export_1",  # our dedupe key, not the user's data
            "recent_event_ids",
            "ended_subscriptions",
        ):
            assert hidden not in text

    async def test_export_schema_is_documented_in_openapi(self, api: httpx.AsyncClient) -> None:
        openapi = (await api.get("/openapi.json")).json()
        export = openapi["paths"]["/api/users/me/export"]["get"]["responses"]["200"]
        assert export["content"]["application/json"]["schema"]["$ref"].endswith("/UserExport")
        schemas = openapi["components"]["schemas"]
        assert set(schemas["UserExport"]["properties"]) == EXPORT_SECTIONS
        me = schemas["MePublic"]["properties"]["subscription"]["$ref"]
        assert set(schemas[me.rsplit("/", 1)[1]]["properties"]) == SUBSCRIPTION_FIELDS

    async def test_delete_refuses_login_keeps_data_and_closes_workflow(
        self,
        api: httpx.AsyncClient,
        login: Callable[..., Any],
        db: AsyncSession,
        temporal: Client,
    ) -> None:
        body, tokens = await login()
        me = (await api.get("/api/auth/me", headers=bearer(tokens))).json()
        context = await api.post(
            "/api/contexts",
            json={"coin": "BTC", "fiat": "BRL", "exchange": "paper"},
            headers=bearer(tokens),
        )
        assert context.status_code == 201, context.text
        response = await api.delete("/api/users/me", headers=bearer(tokens))
        assert response.status_code == 204, response.text

        assert_error(await api.get("/api/auth/me", headers=bearer(tokens)), 401, "invalid_token")
        relogin = await api.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
        assert_error(relogin, 401, "invalid_credentials")
        refresh = await api.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401

        user = await db.get(User, uuid.UUID(me["id"]))
        assert user is not None and user.deleted_at is not None  # kept for legal retention
        handle = temporal.get_workflow_handle(f"subscription:{me['id']}")
        result = await handle.result()
        assert result["status"] == "closed"
        actions = (
            await db.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user.id))
        ).all()
        assert "account_deleted" in actions
        db.expire_all()
        kept = await db.get(TradingContext, uuid.UUID(context.json()["id"]))
        assert kept is not None and kept.status == "paused"  # a deleted account trades nowhere
