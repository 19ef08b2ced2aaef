from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from adapters.db.models import User
from api.auth.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenPair,
    UpdateMeRequest,
    UserPublic,
)
from api.auth.service import AccountService
from api.deps import ClientInfoDep, CurrentUser, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=error_responses(422, 500))


def get_account_service(
    session: SessionDep, settings: SettingsDep, temporal: TemporalDep, client: ClientInfoDep
) -> AccountService:
    return AccountService(session, settings, temporal, client)


Accounts = Annotated[AccountService, Depends(get_account_service)]


@router.post(
    "/register",
    status_code=201,
    response_model=RegisterResponse,
    responses=error_responses(409, 503),
)
async def register(request: RegisterRequest, accounts: Accounts) -> RegisterResponse:
    """Create an account. Terms and privacy must be accepted; marketing is optional. Starts the
    user's subscription workflow on the FREE plan."""
    user, workflow_id = await accounts.register(request)
    return RegisterResponse(
        **UserPublic.model_validate(user).model_dump(), subscription_workflow_id=workflow_id
    )


@router.post("/login", response_model=TokenPair, responses=error_responses(401, 429))
async def login(request: LoginRequest, accounts: Accounts) -> TokenPair:
    """Exchange e-mail and password for an access token and a refresh token. After repeated
    failures (per account and per IP) answers 429 with Retry-After."""
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


@router.put("/me", response_model=UserPublic, responses=error_responses(401, 403, 409))
async def update_me(request: UpdateMeRequest, user: CurrentUser, accounts: Accounts) -> User:
    """Change name, e-mail or password; e-mail and password need `current_password`. A new
    password ends every session."""
    return await accounts.update_me(user, request)
