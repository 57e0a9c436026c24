"""Local accounts: argon2id hashes, and nothing that tells a guesser anything."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from warden.access import schema
from warden.access.accounts import AccountError, Accounts
from warden.access.store import AccessStore

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.fixture
def accounts(store: AccessStore) -> Accounts:
    return Accounts(store, FAST)


def test_add_and_authenticate(accounts: Accounts, store: AccessStore) -> None:
    accounts.add("alice", "correct horse battery", groups=["dev", "dev"], display_name="Alice")
    account = accounts.authenticate("alice", "correct horse battery")
    assert account is not None and account.groups == ("dev",)
    with store.read() as conn:
        stored = conn.execute(select(schema.accounts.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong password!!"),
        ("nobody", "correct horse battery"),
        ("ALICE", "correct horse battery"),
        ("alice", ""),
        ("a" * 300, "x"),
    ],
)
def test_wrong_credentials(accounts: Accounts, username: str, password: str) -> None:
    accounts.add("alice", "correct horse battery", groups=[])
    assert accounts.authenticate(username, password) is None


def test_disabled_accounts_cannot_sign_in(accounts: Accounts) -> None:
    accounts.add("bob", "correct horse battery", groups=[])
    accounts.set_disabled("bob", True)
    assert accounts.authenticate("bob", "correct horse battery") is None
    accounts.set_disabled("bob", False)
    assert accounts.authenticate("bob", "correct horse battery") is not None


def test_password_change(accounts: Accounts) -> None:
    accounts.add("carol", "correct horse battery", groups=[])
    accounts.set_password("carol", "another long secret")
    assert accounts.authenticate("carol", "correct horse battery") is None
    assert accounts.authenticate("carol", "another long secret") is not None


def test_old_parameters_are_rehashed_on_sign_in(store: AccessStore) -> None:
    Accounts(store, FAST).add("dan", "correct horse battery", groups=[])
    stronger = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    assert Accounts(store, stronger).authenticate("dan", "correct horse battery") is not None
    with store.read() as conn:
        stored = conn.execute(select(schema.accounts.c.password_hash)).scalar_one()
    assert "m=16384,t=2" in stored


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("Bad Name", "correct horse battery", "user names"),
        ("erin", "short", "at least 12"),
    ],
)
def test_refused_accounts(accounts: Accounts, username: str, password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.add(username, password, groups=[])


def test_no_duplicates(accounts: Accounts) -> None:
    accounts.add("frank", "correct horse battery", groups=[])
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("frank", "correct horse battery", groups=[])
    with pytest.raises(AccountError, match="no account"):
        accounts.set_password("ghost", "correct horse battery")


def test_bootstrap_happens_once(accounts: Accounts) -> None:
    password = accounts.bootstrap("admin", ["warden-admins"])
    assert password is not None and len(password) >= 20
    assert accounts.authenticate("admin", password) is not None
    assert accounts.bootstrap("admin", ["warden-admins"]) is None


def test_no_bootstrap_when_accounts_exist(accounts: Accounts) -> None:
    accounts.add("gina", "correct horse battery", groups=[])
    assert accounts.bootstrap("admin", ["warden-admins"]) is None
    assert [a.username for a in accounts.all()] == ["gina"]
