from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.db.models import ThrottleKind, User
from api.auth.profile import ProfileService
from api.auth.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenPair,
    UpdateMeRequest,
    UserPublic,
    VerifyEmailRequest,
)
from api.deps import ClientInfoDep, CurrentUser, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses
from api.ratelimit import limit_per_hour
from api.security import InvalidToken, decode_access_claims

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=error_responses(422, 500))


def get_account_service(
    session: SessionDep, settings: SettingsDep, temporal: TemporalDep, client: ClientInfoDep
) -> ProfileService:
    return ProfileService(session, settings, temporal, client)


Accounts = Annotated[ProfileService, Depends(get_account_service)]


async def limit_registrations(
    session: SessionDep, settings: SettingsDep, client: ClientInfoDep
) -> None:
    await limit_per_hour(
        session, ThrottleKind.REGISTER_IP, client.ip, settings.register_max_per_hour, "sign-ups"
    )


def current_session_id(
    _user: CurrentUser,  # the token was checked there; this only reads which login it is
    settings: SettingsDep,
    credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))
    ],
) -> uuid.UUID | None:
    if credentials is None:
        return None
    try:
        return decode_access_claims(settings, credentials.credentials).session_id
    except InvalidToken:
        return None


@router.post(
    "/register",
    status_code=201,
    response_model=RegisterResponse,
    responses=error_responses(409, 429, 503),
    dependencies=[Depends(limit_registrations)],
)
async def register(request: RegisterRequest, accounts: Accounts) -> RegisterResponse:
    """Create an account. Terms and privacy must be accepted; marketing is optional. Starts the
    user's subscription workflow on the FREE plan. Sign-ups per IP are limited per hour (429
    with Retry-After). A weak password is refused with the reasons (common or breached,
    repeated pattern, sequence, contains the product name, your e-mail or name...)."""
    user, workflow_id = await accounts.register(request)
    return RegisterResponse(
        **UserPublic.model_validate(user).model_dump(), subscription_workflow_id=workflow_id
    )


@router.post("/login", response_model=TokenPair, responses=error_responses(401, 429))
async def login(request: LoginRequest, accounts: Accounts) -> TokenPair:
    """Exchange e-mail and password for an access token and a refresh token. Failed logins
    are limited per IP (429 with Retry-After for the rest of the window) and slowed down per
    account: after a few failures each attempt waits a growing delay (429 with Retry-After),
    after which the right password works again."""
    return await accounts.login(request)


@router.post("/refresh", response_model=TokenPair, responses=error_responses(401))
async def refresh(request: RefreshRequest, accounts: Accounts) -> TokenPair:
    """Rotate a refresh token: the one sent is spent, a new pair comes back. Sending a spent
    token again revokes every token of that login."""
    return await accounts.refresh(request.refresh_token)


@router.post("/logout", status_code=204, responses=error_responses(401))
async def logout(request: RefreshRequest, accounts: Accounts) -> Response:
    """Revoke the refresh token and every token rotated from the same login."""
    await accounts.logout(request.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=UserPublic, responses=error_responses(401))
async def read_me(user: CurrentUser) -> User:
    return user


@router.put("/me", response_model=UserPublic, responses=error_responses(401, 403, 409, 429))
async def update_me(
    request: UpdateMeRequest,
    user: CurrentUser,
    accounts: Accounts,
    session_id: Annotated[uuid.UUID | None, Depends(current_session_id)],
) -> User:
    """Change name, e-mail or password; e-mail and password need `current_password`, whose
    guesses are throttled like logins (429). A new e-mail shows as `pending_email` and is used
    once the link mailed to it is followed (`POST /api/auth/verify-email`). Changing either
    ends every other session (their refresh tokens stop working)."""
    return await accounts.update_me(user, request, session_id)


@router.post("/verify-email", response_model=UserPublic, responses=error_responses(400, 409))
async def verify_email(request: VerifyEmailRequest, accounts: Accounts) -> User:
    """Confirm a new e-mail with the single-use token mailed to it (valid 24 hours); from
    then on it is the login."""
    return await accounts.verify_email(request.token)
