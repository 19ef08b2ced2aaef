from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.models import AuditEvent, ConsentRecord, RefreshToken, User
from tests.conftest import (
    STRONG_PASSWORD,
    TEST_JWT_SECRET,
    assert_error,
    bearer,
    registration,
)


async def audit_actions(db: AsyncSession, user_id: str | None = None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.at)
    if user_id:
        query = query.where(AuditEvent.user_id == uuid.UUID(user_id))
    return list((await db.scalars(query)).all())


class TestRegister:
    async def test_register_creates_user_consents_and_audit(
        self, api: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        body = registration(email="  Maria@Example.COM ", marketing_accepted=True)
        response = await api.post(
            "/api/auth/register",
            json=body,
            # No trusted proxy is configured: the forwarded headers are ignored.
            headers={
                "User-Agent": "pytest-browser/1.0",
                "CF-Connecting-IP": "198.51.100.4",
                "X-Forwarded-For": "198.51.100.5",
            },
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["email"] == "maria@example.com"
        assert created["subscription_workflow_id"] == f"subscription:{created['id']}"
        assert "password" not in response.text and "hash" not in response.text

        user = await db.scalar(select(User).where(User.email == "maria@example.com"))
        assert user is not None and user.password_hash.startswith("$argon2id$")
        consents = (await db.scalars(select(ConsentRecord))).all()
        assert {(c.kind, c.granted) for c in consents} == {
            ("terms", True),
            ("privacy", True),
            ("marketing", True),
        }
        assert {c.ip for c in consents} == {"203.0.113.7"}  # the peer
        assert {c.user_agent for c in consents} == {"pytest-browser/1.0"}
        assert await audit_actions(db, created["id"]) == ["register"]

    async def test_register_without_terms_or_privacy_is_refused(
        self, api: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        response = await api.post(
            "/api/auth/register", json=registration(terms_accepted=False, privacy_accepted=False)
        )
        error = assert_error(response, 422, "consent_required")
        assert error["details"]["fields"] == ["terms_accepted", "privacy_accepted"]
        assert (await db.scalars(select(User))).all() == []

    async def test_register_missing_consent_fields_is_a_validation_error(
        self, api: httpx.AsyncClient
    ) -> None:
        body = registration()
        del body["terms_accepted"]
        error = assert_error(
            await api.post("/api/auth/register", json=body), 422, "validation_error"
        )
        assert [f["field"] for f in error["details"]["fields"]] == ["terms_accepted"]

    async def test_register_with_weak_password_lists_the_problems(
        self, api: httpx.AsyncClient
    ) -> None:
        response = await api.post("/api/auth/register", json=registration(password="short1"))
        error = assert_error(response, 422, "weak_password")
        assert "must have at least 10 characters" in error["details"]["problems"]

    async def test_register_with_password_containing_email_is_refused(
        self, api: httpx.AsyncClient
    ) -> None:
        body = registration(email="satoshi@example.com", password="satoshi-2009!")
        assert_error(await api.post("/api/auth/register", json=body), 422, "weak_password")

    async def test_register_with_malformed_email_is_refused(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/api/auth/register", json=registration(email="not-an-email"))
        error = assert_error(response, 422, "validation_error")
        assert error["details"]["fields"][0]["field"] == "email"

    async def test_register_twice_with_same_email_conflicts(
        self, api: httpx.AsyncClient, register: Callable[..., Any]
    ) -> None:
        body, _ = await register()
        again = registration(email=body["email"].upper())
        assert_error(await api.post("/api/auth/register", json=again), 409, "email_taken")

    async def test_register_with_unknown_field_is_refused(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/api/auth/register", json=registration(is_admin=True))
        assert_error(response, 422, "validation_error")

    async def test_register_with_malformed_json_is_refused(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/api/auth/register",
            content=b'{"email": ',
            headers={"Content-Type": "application/json"},
        )
        assert_error(response, 422, "validation_error")


class TestLogin:
    async def test_login_returns_token_pair(
        self, api: httpx.AsyncClient, register: Callable[..., Any], db: AsyncSession
    ) -> None:
        body, created = await register()
        response = await api.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 15 * 60
        me = await api.get("/api/auth/me", headers=bearer(tokens))
        assert me.status_code == 200 and me.json()["id"] == created["id"]
        assert await audit_actions(db, created["id"]) == ["register", "login_succeeded"]

    async def test_wrong_password_and_unknown_email_look_the_same(
        self, api: httpx.AsyncClient, register: Callable[..., Any]
    ) -> None:
        body, _ = await register()
        wrong = await api.post(
            "/api/auth/login", json={"email": body["email"], "password": "Wrong-password-1"}
        )
        unknown = await api.post(
            "/api/auth/login", json={"email": "nobody@example.com", "password": STRONG_PASSWORD}
        )
        assert assert_error(wrong, 401, "invalid_credentials") == assert_error(
            unknown, 401, "invalid_credentials"
        )


class TestTokens:
    async def test_refresh_rotates_the_token(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login()
        response = await api.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert response.status_code == 200, response.text
        rotated = response.json()
        assert rotated["refresh_token"] != tokens["refresh_token"]
        assert (await api.get("/api/auth/me", headers=bearer(rotated))).status_code == 200
        again = await api.post(
            "/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
        )
        assert again.status_code == 200

    async def test_reusing_a_rotated_token_revokes_the_whole_family(
        self, api: httpx.AsyncClient, login: Callable[..., Any], db: AsyncSession
    ) -> None:
        _, tokens = await login()
        first = tokens["refresh_token"]
        second = (await api.post("/api/auth/refresh", json={"refresh_token": first})).json()
        # The first token is presented again (stolen): the family dies.
        reuse = await api.post("/api/auth/refresh", json={"refresh_token": first})
        assert_error(reuse, 401, "refresh_token_reused")
        # The legitimate newest token is revoked too.
        after = await api.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert_error(after, 401, "refresh_token_reused")
        statuses = set((await db.scalars(select(RefreshToken.status))).all())
        assert statuses == {"revoked"}
        assert "refresh_token_reuse" in await audit_actions(db)

    async def test_reuse_does_not_touch_other_logins(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        body, tokens = await login()
        other = (
            await api.post(
                "/api/auth/login", json={"email": body["email"], "password": body["password"]}
            )
        ).json()
        await api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        await api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        still = await api.post("/api/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert still.status_code == 200

    async def test_logout_revokes_the_refresh_token(
        self, api: httpx.AsyncClient, login: Callable[..., Any], db: AsyncSession
    ) -> None:
        _, tokens = await login()
        response = await api.post(
            "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        assert response.status_code == 204
        refused = await api.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert_error(refused, 401, "refresh_token_reused")
        assert "logout" in await audit_actions(db)

    async def test_unknown_refresh_token_is_refused(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/api/auth/refresh", json={"refresh_token": "made-up"})
        assert_error(response, 401, "invalid_refresh_token")

    async def test_expired_refresh_token_is_refused(
        self, api: httpx.AsyncClient, login: Callable[..., Any], db: AsyncSession
    ) -> None:
        _, tokens = await login()
        await db.execute(
            update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
        response = await api.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert_error(response, 401, "refresh_token_expired")

    async def test_refresh_token_lives_seven_days(
        self, login: Callable[..., Any], db: AsyncSession
    ) -> None:
        await login()
        token = await db.scalar(select(RefreshToken))
        assert token is not None
        assert token.expires_at - token.created_at == timedelta(days=7)

    async def test_expired_access_token_is_refused(
        self, api: httpx.AsyncClient, register: Callable[..., Any]
    ) -> None:
        _, created = await register()
        past = datetime.now(UTC) - timedelta(hours=1)
        token = jwt.encode(
            {
                "sub": created["id"],
                "type": "access",
                "iat": past,
                "exp": past + timedelta(minutes=15),
            },
            TEST_JWT_SECRET,
            algorithm="HS256",
        )
        response = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, "token_expired")
        assert response.headers["WWW-Authenticate"] == "Bearer"

    async def test_tampered_access_token_is_refused(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login()
        header, payload, signature = tokens["access_token"].split(".")
        forged_claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        forged_claims["sub"] = str(uuid.uuid4())
        forged = jwt.encode(forged_claims, "another-secret-" + "y" * 32, algorithm="HS256")
        flipped = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
        for token in (forged, flipped, "not.a.jwt"):
            response = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert_error(response, 401, "invalid_token")

    async def test_missing_token_is_refused(self, api: httpx.AsyncClient) -> None:
        assert_error(await api.get("/api/auth/me"), 401, "not_authenticated")


class TestMe:
    async def test_update_name(self, api: httpx.AsyncClient, login: Callable[..., Any]) -> None:
        _, tokens = await login()
        response = await api.put("/api/auth/me", json={"name": "Ana Souza"}, headers=bearer(tokens))
        assert response.status_code == 200 and response.json()["name"] == "Ana Souza"

    async def test_change_email_needs_current_password(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        body, tokens = await login()
        refused = await api.put(
            "/api/auth/me", json={"email": "new@example.com"}, headers=bearer(tokens)
        )
        assert_error(refused, 403, "current_password_required")
        accepted = await api.put(
            "/api/auth/me",
            json={"email": "New@Example.com", "current_password": body["password"]},
            headers=bearer(tokens),
        )
        assert accepted.status_code == 200, accepted.text
        # Pending until verified (tests/api/test_email_change.py).
        assert accepted.json()["email"] == body["email"]
        assert accepted.json()["pending_email"] == "new@example.com"

    async def test_password_change_ends_other_sessions(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        body, tokens = await login()
        credentials = {"email": body["email"], "password": body["password"]}
        other = (await api.post("/api/auth/login", json=credentials)).json()
        new_password = "Another-Strong-77"
        response = await api.put(
            "/api/auth/me",
            json={"new_password": new_password, "current_password": body["password"]},
            headers=bearer(tokens),
        )
        assert response.status_code == 200, response.text
        refused = await api.post(
            "/api/auth/refresh", json={"refresh_token": other["refresh_token"]}
        )
        assert_error(refused, 401, "refresh_token_reused")
        # The session that made the change goes on.
        kept = await api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert kept.status_code == 200, kept.text
        old = await api.post("/api/auth/login", json=credentials)
        assert_error(old, 401, "invalid_credentials")
        new = await api.post(
            "/api/auth/login", json={"email": body["email"], "password": new_password}
        )
        assert new.status_code == 200

    async def test_weak_new_password_is_refused(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        body, tokens = await login()
        response = await api.put(
            "/api/auth/me",
            json={"new_password": "aaaaaaaaaaaa", "current_password": body["password"]},
            headers=bearer(tokens),
        )
        assert_error(response, 422, "weak_password")

    async def test_empty_update_is_refused(
        self, api: httpx.AsyncClient, login: Callable[..., Any]
    ) -> None:
        _, tokens = await login()
        response = await api.put("/api/auth/me", json={}, headers=bearer(tokens))
        assert_error(response, 422, "nothing_to_update")


async def test_no_password_or_token_reaches_the_logs(
    api: httpx.AsyncClient, captured_log: io.StringIO
) -> None:
    body = registration()
    assert (await api.post("/api/auth/register", json=body)).status_code == 201
    await api.post("/api/auth/login", json={"email": body["email"], "password": "Wrong-pass-99"})
    tokens = (
        await api.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
    ).json()
    rotated = (
        await api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()
    await api.get("/api/auth/me", headers=bearer(rotated))
    text = captured_log.getvalue()
    assert '"route": "/api/auth/login"' in text  # the requests were logged
    for secret in (
        body["password"],
        "Wrong-pass-99",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    ):
        assert secret not in text
