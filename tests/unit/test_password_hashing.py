"""Argon2 runs off the event loop (issue 9): the loop keeps serving while passwords hash."""

from __future__ import annotations

import asyncio

from api.security import hash_password, verify_password


async def test_the_loop_runs_other_work_while_passwords_hash() -> None:
    stored = await hash_password("Correct-Horse-42")
    checks = [asyncio.create_task(verify_password(stored, "Correct-Horse-42")) for _ in range(4)]
    still_hashing: list[int] = []
    # Queued after the checks: on a blocked loop it would run only once all four had finished.
    asyncio.get_running_loop().call_soon(
        lambda: still_hashing.append(sum(not check.done() for check in checks))
    )
    assert await asyncio.gather(*checks) == [True] * 4
    assert still_hashing and still_hashing[0] > 0


async def test_verification_still_tells_right_from_wrong() -> None:
    stored = await hash_password("Correct-Horse-42")
    assert await verify_password(stored, "Correct-Horse-42")
    assert not await verify_password(stored, "Correct-Horse-43")
    assert not await verify_password(None, "Correct-Horse-42")
    assert not await verify_password("not-a-hash", "Correct-Horse-42")
