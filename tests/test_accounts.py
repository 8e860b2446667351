"""Accounts through a real SMTP server: sign-up, confirmation, login, reset, tokens, deletion."""

from __future__ import annotations

import dataclasses
import re

import argon2
import pytest
from argon2 import PasswordHasher

from paperfeed import accounts, limits, voting
from paperfeed.errors import InvalidInput, NotAllowed, RateLimited
from paperfeed.store import papers, votes
from paperfeed.store import users as user_store

from .conftest import make_paper
from .smtp import smtp_server

PASSWORD = "correct horse battery"


@pytest.fixture
def mailbox(settings):
    with smtp_server() as (inbox, port):
        yield inbox, dataclasses.replace(settings, mail_backend="smtp", smtp_port=port)


def _link(inbox, address, path):
    text = inbox.text(inbox.to(address)[-1])
    return re.search(rf"{re.escape(path)}\?token=(\S+)", text)[1]


def signed_up(db, settings, inbox, email="ada@example.org"):
    accounts.signup(db, settings, email=email, password=PASSWORD, name="Ada")
    accounts.confirm(db, settings, _link(inbox, email, "/confirm"))
    return accounts.authenticate(db, email=email, password=PASSWORD)


def test_signup_needs_the_emailed_confirmation(db, mailbox):
    inbox, settings = mailbox
    accounts.signup(db, settings, email=" Ada@Example.ORG ", password=PASSWORD, name="Ada")
    (msg,) = inbox.to("ada@example.org")
    assert "Confirm your" in msg["Subject"]
    with pytest.raises(NotAllowed, match="confirm your email"):
        accounts.authenticate(db, email="ada@example.org", password=PASSWORD)
    user = accounts.confirm(db, settings, _link(inbox, "ada@example.org", "/confirm"))
    assert user.confirmed and user.email == "ada@example.org"
    assert accounts.authenticate(db, email="ADA@example.org", password=PASSWORD).id == user.id


def test_signup_of_a_known_address_sends_a_notice_not_an_account(db, mailbox):
    """Enumeration: the caller sees the same (nothing raised); the owner gets a notice."""
    inbox, settings = mailbox
    signed_up(db, settings, inbox)
    accounts.signup(db, settings, email="ada@example.org", password="another password", name="X")
    assert "Sign-up attempt" in inbox.to("ada@example.org")[-1]["Subject"]
    accounts.authenticate(db, email="ada@example.org", password=PASSWORD)  # unchanged


@pytest.mark.parametrize(
    "email",
    [
        "",
        "no-at-sign",
        "a@b",
        "a@@b.org",
        "x@example.org\r\nBcc: victim@example.org",
        "a b@example.org",
    ],
)
def test_bad_addresses_are_refused(db, settings, email):
    with pytest.raises(InvalidInput):
        accounts.signup(db, settings, email=email, password=PASSWORD, name="x")


def test_internationalised_domain_is_accepted(db, mailbox):
    inbox, settings = mailbox
    accounts.signup(db, settings, email="jörg@bücher.de", password=PASSWORD, name="Jörg")
    assert inbox.messages[-1]["To"] == "jörg@xn--bcher-kva.de"


def test_weak_and_huge_passwords_are_refused(db, settings):
    with pytest.raises(InvalidInput, match="at least"):
        accounts.signup(db, settings, email="a@example.org", password="short", name="a")
    with pytest.raises(InvalidInput, match="at most"):
        accounts.signup(db, settings, email="a@example.org", password="x" * 5000, name="a")


class CountingHasher(PasswordHasher):
    """The tests' hasher, remembering the cost of every hash it verifies against."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified: list[argon2.Parameters] = []

    def verify(self, hash, password):
        self.verified.append(argon2.extract_parameters(hash))
        return super().verify(hash, password)


def test_wrong_password_and_unknown_email_look_the_same(db, mailbox, monkeypatch):
    """Same message, and the same work: an unknown email costs one argon2 verification at the
    cost of a real one, so timing tells nothing (no early return, no cheaper dummy hash)."""
    inbox, settings = mailbox
    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", lambda: hasher)
    signed_up(db, settings, inbox)
    hasher.verified.clear()
    for email in ("ada@example.org", "nobody@example.org", "not an email"):
        with pytest.raises(NotAllowed) as err:
            accounts.authenticate(db, email=email, password="wrong password!")
        assert str(err.value) == accounts.WRONG_LOGIN
    real_cost = argon2.extract_parameters(hasher.hash("x"))
    assert hasher.verified == [real_cost] * 3


@pytest.mark.real_argon2
def test_production_hashes_use_argon2id_at_the_library_defaults(db, settings):
    """Tests hash cheaply (conftest.py); production keeps argon2-cffi's recommended cost."""
    user = accounts.create_user(db, settings, email="ada@example.org", password=PASSWORD)
    with db.connect() as conn:
        _user, hashed = user_store.find_by_email(conn, user.email)
    defaults = argon2.profiles.get_default_parameters()
    assert argon2.extract_parameters(hashed) == defaults
    assert defaults.type is argon2.Type.ID and defaults.memory_cost >= 19 * 1024


def test_forged_or_tampered_links_are_refused(db, mailbox):
    inbox, settings = mailbox
    accounts.signup(db, settings, email="ada@example.org", password=PASSWORD, name="Ada")
    token = _link(inbox, "ada@example.org", "/confirm")
    for bad in ("", "garbage", token[:-2] + "xx", token.replace(".", "!", 1)):
        with pytest.raises(NotAllowed, match="not valid"):
            accounts.confirm(db, settings, bad)
    other = dataclasses.replace(settings, secret_key="k" * 40)  # signed with another key
    with pytest.raises(NotAllowed):
        accounts.confirm(db, other, token)


def test_password_reset_is_single_use_and_ends_sessions(db, mailbox):
    inbox, settings = mailbox
    user = signed_up(db, settings, inbox)
    cookie, _ = accounts.start_session(db, settings, user)
    accounts.request_password_reset(db, settings, email="nobody@example.org")  # silently nothing
    accounts.request_password_reset(db, settings, email="ada@example.org")
    token = _link(inbox, "ada@example.org", "/reset/confirm")
    accounts.reset_password(db, settings, token=token, password="a brand new secret")
    assert accounts.session_for(db, cookie) is None
    with pytest.raises(NotAllowed, match="already used"):
        accounts.reset_password(db, settings, token=token, password="yet another secret")
    accounts.authenticate(db, email="ada@example.org", password="a brand new secret")
    assert len(inbox.messages) == 2  # confirm + one reset: nothing for the unknown address


def test_sessions_rotate_on_login_and_end_on_logout(db, mailbox):
    inbox, settings = mailbox
    user = signed_up(db, settings, inbox)
    first, _ = accounts.start_session(db, settings, user)
    second, session = accounts.start_session(db, settings, user, replacing=first)
    assert first != second and accounts.session_for(db, first) is None
    assert accounts.session_for(db, second).user.id == user.id and session.csrf_token
    accounts.end_session(db, second)
    assert accounts.session_for(db, second) is None
    assert accounts.session_for(db, "x" * 500) is None


def test_change_password_keeps_this_session_only(db, mailbox):
    inbox, settings = mailbox
    user = signed_up(db, settings, inbox)
    here, _ = accounts.start_session(db, settings, user)
    there, _ = accounts.start_session(db, settings, user)
    with pytest.raises(NotAllowed):
        accounts.change_password(db, settings, user=user, current="nope", new="x" * 12, keep=here)
    accounts.change_password(
        db, settings, user=user, current=PASSWORD, new="new password 1", keep=here
    )
    assert accounts.session_for(db, here) and accounts.session_for(db, there) is None


def test_api_tokens_are_hashed_at_rest(db, mailbox):
    inbox, settings = mailbox
    user = signed_up(db, settings, inbox)
    token = accounts.create_api_token(db, user=user, name="laptop")
    assert accounts.user_for_api_token(db, token).id == user.id
    assert accounts.user_for_api_token(db, token + "x") is None
    with db.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_tokens").scalar_one()
    assert token not in stored and len(stored) == 64


def test_deleting_an_account_keeps_its_votes_counted(db, mailbox):
    inbox, settings = mailbox
    user = signed_up(db, settings, inbox)
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1, upvotes=3))
    voting.set_vote(db, user=user, arxiv_id="2511.00001", up=True)
    accounts.delete_account(db, user=user, password=PASSWORD)
    with db.connect() as conn:
        assert votes.count_of(conn, "2511.00001") == 4 and votes.recorded(conn, "2511.00001") == 1
    with pytest.raises(NotAllowed):
        accounts.authenticate(db, email="ada@example.org", password=PASSWORD)


def test_admin_created_by_command_path(db, settings):
    admin = accounts.create_user(
        db, settings, email="root@example.org", password=PASSWORD, admin=True
    )
    assert admin.is_admin and admin.confirmed


def test_votes_are_idempotent_both_ways(db, settings):
    user = accounts.create_user(db, settings, email="v@example.org", password=PASSWORD)
    with db.transaction() as conn:
        papers.upsert(conn, make_paper(1, upvotes=2))
    assert voting.set_vote(db, user=user, arxiv_id="2511.00001", up=True).upvotes == 3
    assert voting.set_vote(db, user=user, arxiv_id="2511.00001v2", up=True).upvotes == 3
    assert voting.voted_among(db, user, ["2511.00001", "2511.00009"]) == {"2511.00001"}
    assert [p.arxiv_id for p in voting.upvoted_papers(db, user)] == ["2511.00001"]
    assert voting.set_vote(db, user=user, arxiv_id="2511.00001", up=False).upvotes == 2
    assert voting.set_vote(db, user=user, arxiv_id="2511.00001", up=False).upvotes == 2
    with pytest.raises(Exception, match="no paper"):
        voting.set_vote(db, user=user, arxiv_id="2511.99999", up=True)


def test_rate_limit_counts_per_key_and_says_when_to_retry(db, settings):
    strict = dataclasses.replace(settings, limit_login="3/60")
    for _ in range(3):
        limits.hit(db, strict, "login", "ip:1.2.3.4")
    with pytest.raises(RateLimited) as err:
        limits.hit(db, strict, "login", "ip:1.2.3.4")
    assert 1 <= err.value.retry_after <= 60
    limits.hit(db, strict, "login", "ip:5.6.7.8")  # another address is not affected
