"""The whole sign-in flow and its error answers, through the SDK generated from openapi.yaml."""

import re
from datetime import datetime
from http import HTTPStatus

from otp_login_client import AuthenticatedClient
from otp_login_client.api.auth import login, register, verify
from otp_login_client.api.session import get_current_user, refresh
from otp_login_client.models import (
    ApiMessage,
    CodeSent,
    CodeSubmission,
    Credentials,
    CurrentUser,
    RefreshRequest,
    Registration,
    SessionGranted,
)

PASSWORD = "correct-horse-42"
CHALLENGE = re.compile(r"[0-9a-f]{32}")


def registered(client, email):
    response = register.sync_detailed(client=client, body=Registration(username=email, password=PASSWORD))
    assert response.status_code == HTTPStatus.CREATED, response.content
    return response


def test_register_login_verify_then_me(client, base_url, email, server_log):
    created = registered(client, email).parsed
    assert isinstance(created, ApiMessage)
    assert (created.success, created.message) == (True, "User created successfully")

    sent = login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD))
    assert sent.status_code == HTTPStatus.OK, sent.content
    assert isinstance(sent.parsed, CodeSent)
    assert (sent.parsed.success, sent.parsed.message) == (True, "OTP sent to email")
    assert CHALLENGE.fullmatch(sent.parsed.challenge), sent.parsed.challenge
    code = server_log.code_after(email, seen=0)

    signed_in = verify.sync_detailed(
        client=client, body=CodeSubmission(username=email, code=code, challenge=sent.parsed.challenge)
    )
    assert signed_in.status_code == HTTPStatus.OK, signed_in.content
    session = signed_in.parsed
    assert isinstance(session, SessionGranted)
    assert (session.success, session.message, session.token_type) == (True, "Login successful", "Bearer")
    assert session.expires_in > 0 and session.token

    with AuthenticatedClient(base_url=base_url, token=session.token, raise_on_unexpected_status=True) as authed:
        me = get_current_user.sync_detailed(client=authed)
    assert me.status_code == HTTPStatus.OK, me.content
    assert isinstance(me.parsed, CurrentUser)
    assert me.parsed.username == email
    # The stable id, and the code just spent: it proved the mailbox and is the last sign-in.
    user = me.parsed
    assert re.fullmatch(r"[0-9a-f]{32}", user.user_id), user.user_id
    assert isinstance(user.email_verified_at, datetime) and isinstance(user.last_sign_in_at, datetime)
    assert user.created_at <= user.email_verified_at <= user.last_sign_in_at
    assert user.last_sign_in_from == "127.0.0.1"


def signed_in(client, email, server_log):
    registered(client, email)
    sent = login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD))
    assert sent.status_code == HTTPStatus.OK, sent.content
    code = server_log.code_after(email, seen=0)
    answer = verify.sync_detailed(
        client=client, body=CodeSubmission(username=email, code=code, challenge=sent.parsed.challenge)
    )
    assert answer.status_code == HTTPStatus.OK, answer.content
    return answer.parsed


def renew(client, refresh_token):
    return refresh.sync_detailed(client=client, body=RefreshRequest(refresh_token=refresh_token))


def test_refresh_rotates_and_a_spent_token_replayed_ends_the_session(client, base_url, email, server_log):
    session = signed_in(client, email, server_log)
    assert CHALLENGE.fullmatch(session.refresh_token) and session.refresh_expires_in > 0

    first = renew(client, session.refresh_token)
    assert first.status_code == HTTPStatus.OK, first.content
    assert isinstance(first.parsed, SessionGranted)
    assert first.parsed.message == "Token refreshed"
    assert first.parsed.refresh_token != session.refresh_token
    with AuthenticatedClient(base_url=base_url, token=first.parsed.token) as authed:
        assert get_current_user.sync_detailed(client=authed).parsed.username == email
    second = renew(client, first.parsed.refresh_token)
    assert second.status_code == HTTPStatus.OK, second.content

    # The first token again, after its child was spent too: a copy is in someone else's hands.
    replayed = renew(client, session.refresh_token)
    assert replayed.status_code == HTTPStatus.UNAUTHORIZED
    assert (replayed.parsed.success, replayed.parsed.message) == (False, "Invalid or expired session")
    assert renew(client, second.parsed.refresh_token).status_code == HTTPStatus.UNAUTHORIZED
    with AuthenticatedClient(base_url=base_url, token=second.parsed.token) as authed:
        assert get_current_user.sync_detailed(client=authed).status_code == HTTPStatus.UNAUTHORIZED


def test_registering_a_taken_username_returns_409(client, email):
    registered(client, email)
    again = register.sync_detailed(client=client, body=Registration(username=email.upper(), password=PASSWORD))
    assert again.status_code == HTTPStatus.CONFLICT
    assert (again.parsed.success, again.parsed.message) == (False, "Username already exists")


def test_login_with_wrong_password_returns_401(client, email, server_log):
    registered(client, email)
    refused = login.sync_detailed(client=client, body=Credentials(username=email, password="not-the-password"))
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert (refused.parsed.success, refused.parsed.message) == (False, "Invalid username or password")
    assert server_log.codes(email) == []


def test_verify_with_wrong_code_returns_401(client, email, server_log):
    registered(client, email)
    assert login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD)).status_code == 200
    code = server_log.code_after(email, seen=0)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = verify.sync_detailed(client=client, body=CodeSubmission(username=email, code=wrong))
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert isinstance(refused.parsed, ApiMessage)
    assert (refused.parsed.success, refused.parsed.message) == (False, "Invalid or expired OTP")


def test_verify_with_a_wrong_challenge_returns_401_and_the_right_one_signs_in(client, email, server_log):
    registered(client, email)
    sent = login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD))
    assert sent.status_code == HTTPStatus.OK, sent.content
    code = server_log.code_after(email, seen=0)
    challenge = sent.parsed.challenge
    wrong = f"{(int(challenge, 16) + 1) % 16**32:032x}"

    refused = verify.sync_detailed(client=client, body=CodeSubmission(username=email, code=code, challenge=wrong))
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert (refused.parsed.success, refused.parsed.message) == (False, "Invalid or expired OTP")

    # A wrong challenge reaches no code, so the right one still signs in with it.
    signed_in = verify.sync_detailed(client=client, body=CodeSubmission(username=email, code=code, challenge=challenge))
    assert signed_in.status_code == HTTPStatus.OK, signed_in.content
    assert signed_in.parsed.token


def test_register_with_a_bad_email_returns_400(client):
    refused = register.sync_detailed(client=client, body=Registration(username="not-an-email", password=PASSWORD))
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert (refused.parsed.success, refused.parsed.message) == (False, "Username must be a valid email address")


def test_me_with_a_bad_token_returns_401(base_url):
    with AuthenticatedClient(base_url=base_url, token="not-a-token", raise_on_unexpected_status=True) as authed:
        refused = get_current_user.sync_detailed(client=authed)
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert (refused.parsed.success, refused.parsed.message) == (False, "Invalid or expired session")
