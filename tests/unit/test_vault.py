from __future__ import annotations

import pytest

from adapters.vault import Vault, VaultError, new_key, parse_keys


@pytest.fixture
def keys() -> dict[int, bytes]:
    return parse_keys(f"1:{new_key()},2:{new_key()}")


def test_sealed_secret_opens_only_in_its_context(keys: dict[int, bytes]) -> None:
    vault = Vault(keys)
    sealed = vault.seal("my-binance-secret", "user-1:binance:api_secret")
    assert "my-binance-secret" not in sealed
    assert vault.open(sealed, "user-1:binance:api_secret") == "my-binance-secret"
    with pytest.raises(VaultError, match="does not open"):
        vault.open(sealed, "user-2:binance:api_secret")  # copied into another row


def test_ciphertext_differs_every_time(keys: dict[int, bytes]) -> None:
    vault = Vault(keys)
    assert vault.seal("same", "ctx") != vault.seal("same", "ctx")


def test_highest_version_seals_by_default(keys: dict[int, bytes]) -> None:
    assert Vault(keys).seal("x", "ctx").startswith("v2.")
    assert Vault(keys, active_version=1).seal("x", "ctx").startswith("v1.")


def test_unknown_key_version_fails_clearly(keys: dict[int, bytes]) -> None:
    sealed = Vault(keys).seal("x", "ctx")
    only_first = Vault({1: keys[1]})
    with pytest.raises(VaultError, match="sealed with key version 2, which is not configured"):
        only_first.open(sealed, "ctx")


def test_wrong_key_under_the_same_version_fails_clearly(keys: dict[int, bytes]) -> None:
    sealed = Vault(keys).seal("x", "ctx")
    other = Vault(parse_keys(f"2:{new_key()}"))
    with pytest.raises(VaultError, match="wrong key or altered"):
        other.open(sealed, "ctx")


def test_tampered_ciphertext_fails(keys: dict[int, bytes]) -> None:
    vault = Vault(keys)
    prefix, nonce, body = vault.seal("secret", "ctx").split(".")
    flipped = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    with pytest.raises(VaultError):
        vault.open(f"{prefix}.{nonce}.{flipped}", "ctx")


def test_reseal_moves_to_the_active_version(keys: dict[int, bytes]) -> None:
    old = Vault(keys, active_version=1).seal("rotate-me", "ctx")
    current = Vault(keys)
    moved = current.reseal(old, "ctx")
    assert Vault.version_of(moved) == 2 and current.open(moved, "ctx") == "rotate-me"
    assert current.reseal(moved, "ctx") == moved


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one key"),
        ("x:abc", "<version>:<base64 key>"),
        ("1:!!!", "not valid base64"),
        ("1:c2hvcnQ", "must be 32 bytes"),
    ],
)
def test_bad_key_configuration_is_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_keys(text)
