from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import normalise_email, password_problems


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt!", "must have at least 10 characters"),
        ("", "must have at least 10 characters"),  # zxcvbn itself fails on ""
        ("x" * 129 + "1", "must have at most 128 characters"),
        ("1234567890", "is a common password (found in breached-password lists)"),
        ("password123", "is a common password (found in breached-password lists)"),
        ("abababab12", "is a repeated pattern"),
        ("ab1ab1ab1ab1", "is a repeated pattern"),
        ("abcdefghijk9", "is a sequence like abcd or 1234"),
        ("Chocolate12", "is made of common words or names"),
        ("asdfghjkl;lkj", "is a keyboard pattern like qwerty"),
        ("P@ssw0rd2024", "contains a date or year"),
        ("Crypteras2024!", "must not contain the product name"),
        ("ana.souza-2026", "must not contain your e-mail or name"),
        ("Souza-Ana-1990", "must not contain your e-mail or name"),
    ],
)
def test_password_policy_explains_each_problem(password: str, problem: str) -> None:
    assert problem in password_problems(password, email="ana.souza@example.com", name="Ana Souza")


@pytest.mark.parametrize("password", ["Correct-Horse-42", "Another-Strong-77", "onlyletterss"])
def test_strong_passwords_have_no_problems(password: str) -> None:
    # No composition rule: a long unguessable password of letters only is fine (NIST 800-63B).
    assert password_problems(password, email="ana@example.com", name="Ana") == []


@given(password=st.text(max_size=140), name=st.text(max_size=30))
def test_any_text_gets_an_answer_never_an_error(password: str, name: str) -> None:
    problems = password_problems(password, email="ana@example.com", name=name)
    assert all(isinstance(problem, str) and problem for problem in problems)


def test_emails_compare_without_case_or_blanks() -> None:
    assert normalise_email("  Ana@Example.COM ") == "ana@example.com"
