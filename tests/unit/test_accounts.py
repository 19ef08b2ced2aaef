from __future__ import annotations

import pytest

from domain.accounts import normalise_email, password_problems


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt!", "must have at least 10 characters"),
        ("x" * 129 + "1", "must have at most 128 characters"),
        ("onlyletterss", "must mix letters with digits or symbols"),
        ("1234567890", "must mix letters with digits or symbols"),
        ("password123", "is too common or repetitive"),
        ("ab1ab1ab1ab1", "is too common or repetitive"),
        ("ana.souza-2026", "must not contain your e-mail or name"),
    ],
)
def test_password_policy_explains_each_problem(password: str, problem: str) -> None:
    assert problem in password_problems(password, email="ana.souza@example.com", name="Ana")


def test_a_good_password_has_no_problems() -> None:
    assert password_problems("Correct-Horse-42", email="ana@example.com", name="Ana") == []


def test_emails_compare_without_case_or_blanks() -> None:
    assert normalise_email("  Ana@Example.COM ") == "ana@example.com"
