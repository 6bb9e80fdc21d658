"""The rest of an account's life through the generated SDK: password reset by emailed code,
password change, sign-out on the server, the list of the account's sessions, its activity, a
change of address proven by a code mailed to the new one, and the language of its mail."""

from http import HTTPStatus

from otp_login_client import AuthenticatedClient, Client
from otp_login_client.api.account import (
    change_email,
    change_password,
    confirm_email_change,
    delete_account,
    request_password_reset,
    reset_password,
)
from otp_login_client.api.auth import login, register, verify
from otp_login_client.api.session import (
    end_session,
    get_current_user,
    list_activity,
    list_sessions,
    logout,
    set_language,
)
from otp_login_client.models import (
    AccountDeletion,
    ActivityList,
    CodeSent,
    CodeSubmission,
    Credentials,
    EmailChangeConfirmation,
    EmailChanged,
    EmailChangeRequest,
    LanguageChoice,
    MailLanguage,
    PasswordChange,
    PasswordReset,
    PasswordResetRequest,
    Registration,
    SignOut,
    SignOutScope,
)
from otp_login_client.types import UNSET

PASSWORD = "correct-horse-42"
NEW_PASSWORD = "a brand new passphrase"


def sign_in(client, server_log, email, password=PASSWORD):
    """Logs in and verifies the newest code; answers the session token."""
    seen = len(server_log.codes(email))
    sent = login.sync_detailed(client=client, body=Credentials(username=email, password=password))
    assert sent.status_code == HTTPStatus.OK, sent.content
    code = server_log.code_after(email, seen=seen)
    signed_in = verify.sync_detailed(
        client=client, body=CodeSubmission(username=email, code=code, challenge=sent.parsed.challenge)
    )
    assert signed_in.status_code == HTTPStatus.OK, signed_in.content
    return signed_in.parsed.token


def me_status(base_url, token):
    with AuthenticatedClient(base_url=base_url, token=token) as authed:
        return get_current_user.sync_detailed(client=authed).status_code


def given(value):
    """An optional field's value, None when the answer left it out."""
    return None if value is UNSET else value


def register_user(client, email):
    created = register.sync_detailed(client=client, body=Registration(username=email, password=PASSWORD))
    assert created.status_code == HTTPStatus.CREATED, created.content


def test_a_reset_code_sets_a_new_password_and_ends_every_session(client, base_url, email, server_log):
    register_user(client, email)
    token = sign_in(client, server_log, email)

    asked = request_password_reset.sync_detailed(client=client, body=PasswordResetRequest(username=email))
    assert asked.status_code == HTTPStatus.OK, asked.content
    assert asked.parsed.message == "If the account exists, a reset code was sent"
    code = server_log.code_after(email, seen=0, purpose="PasswordReset")

    done = reset_password.sync_detailed(
        client=client,
        body=PasswordReset(username=email, code=code, challenge=asked.parsed.challenge, new_password=NEW_PASSWORD),
    )
    assert done.status_code == HTTPStatus.OK, done.content
    assert (done.parsed.success, done.parsed.message) == (True, "Password changed")
    assert me_status(base_url, token) == HTTPStatus.UNAUTHORIZED

    old = login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD))
    assert old.status_code == HTTPStatus.UNAUTHORIZED
    assert me_status(base_url, sign_in(client, server_log, email, NEW_PASSWORD)) == HTTPStatus.OK


def test_an_unknown_address_gets_the_same_answer_and_a_wrong_code_401(client, email):
    asked = request_password_reset.sync_detailed(client=client, body=PasswordResetRequest(username=email))
    assert asked.status_code == HTTPStatus.OK
    assert isinstance(asked.parsed, CodeSent)
    assert (asked.parsed.success, asked.parsed.message) == (True, "If the account exists, a reset code was sent")
    assert len(asked.parsed.challenge) == 32, "an unknown address gets a challenge too"
    refused = reset_password.sync_detailed(
        client=client,
        body=PasswordReset(username=email, code="123456", challenge=asked.parsed.challenge, new_password=NEW_PASSWORD),
    )
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert (refused.parsed.success, refused.parsed.message) == (False, "Invalid or expired code")


def test_a_code_works_only_for_its_purpose(client, base_url, email, server_log):
    register_user(client, email)
    sent = login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD))
    assert sent.status_code == HTTPStatus.OK, sent.content
    sign_in_code, sign_in_challenge = server_log.code_after(email, seen=0), sent.parsed.challenge
    asked = request_password_reset.sync_detailed(client=client, body=PasswordResetRequest(username=email))
    assert asked.status_code == HTTPStatus.OK, asked.content
    reset_code, reset_challenge = server_log.code_after(email, seen=0, purpose="PasswordReset"), asked.parsed.challenge

    # Each code at the other operation, with the challenge that reaches that operation's code.
    as_sign_in = verify.sync_detailed(
        client=client, body=CodeSubmission(username=email, code=reset_code, challenge=sign_in_challenge)
    )
    assert as_sign_in.status_code == HTTPStatus.UNAUTHORIZED
    assert as_sign_in.parsed.message == "Invalid or expired OTP"
    as_reset = reset_password.sync_detailed(
        client=client,
        body=PasswordReset(username=email, code=sign_in_code, challenge=reset_challenge, new_password=NEW_PASSWORD),
    )
    assert as_reset.status_code == HTTPStatus.UNAUTHORIZED
    assert as_reset.parsed.message == "Invalid or expired code"

    # Each still works where it belongs.
    signed_in = verify.sync_detailed(
        client=client, body=CodeSubmission(username=email, code=sign_in_code, challenge=sign_in_challenge)
    )
    assert signed_in.status_code == HTTPStatus.OK, signed_in.content
    done = reset_password.sync_detailed(
        client=client,
        body=PasswordReset(username=email, code=reset_code, challenge=reset_challenge, new_password=NEW_PASSWORD),
    )
    assert done.status_code == HTTPStatus.OK, done.content


def test_changing_the_password_keeps_this_session_only(client, base_url, email, server_log):
    register_user(client, email)
    here = sign_in(client, server_log, email)
    elsewhere = sign_in(client, server_log, email)
    with AuthenticatedClient(base_url=base_url, token=here, raise_on_unexpected_status=True) as authed:
        wrong = change_password.sync_detailed(
            client=authed, body=PasswordChange(current_password="not my password", new_password=NEW_PASSWORD)
        )
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED
        assert wrong.parsed.message == "Current password is incorrect"
        changed = change_password.sync_detailed(
            client=authed, body=PasswordChange(current_password=PASSWORD, new_password=NEW_PASSWORD)
        )
    assert changed.status_code == HTTPStatus.OK, changed.content
    assert changed.parsed.message == "Password changed"
    assert me_status(base_url, here) == HTTPStatus.OK
    assert me_status(base_url, elsewhere) == HTTPStatus.UNAUTHORIZED

    old = login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD))
    assert old.status_code == HTTPStatus.UNAUTHORIZED
    assert old.parsed.message == "Invalid username or password"
    assert me_status(base_url, sign_in(client, server_log, email, NEW_PASSWORD)) == HTTPStatus.OK


def test_logout_ends_this_session_and_scope_all_every_session(client, base_url, email, server_log):
    register_user(client, email)
    first = sign_in(client, server_log, email)
    second = sign_in(client, server_log, email)
    third = sign_in(client, server_log, email)

    with AuthenticatedClient(base_url=base_url, token=first, raise_on_unexpected_status=True) as authed:
        ended = logout.sync_detailed(client=authed)
    assert ended.status_code == HTTPStatus.OK, ended.content
    assert ended.parsed.message == "Signed out"
    assert me_status(base_url, first) == HTTPStatus.UNAUTHORIZED
    assert me_status(base_url, second) == HTTPStatus.OK

    with AuthenticatedClient(base_url=base_url, token=second, raise_on_unexpected_status=True) as authed:
        everywhere = logout.sync_detailed(client=authed, body=SignOut(scope=SignOutScope.ALL))
    assert everywhere.status_code == HTTPStatus.OK, everywhere.content
    assert everywhere.parsed.message == "Signed out everywhere"
    assert me_status(base_url, second) == HTTPStatus.UNAUTHORIZED
    assert me_status(base_url, third) == HTTPStatus.UNAUTHORIZED


def test_the_session_list_marks_this_one_and_ending_another_refuses_it(client, base_url, email, server_log):
    register_user(client, email)
    phone = sign_in(client, server_log, email)
    laptop = sign_in(client, server_log, email)
    with AuthenticatedClient(base_url=base_url, token=laptop, raise_on_unexpected_status=True) as authed:
        listed = list_sessions.sync_detailed(client=authed)
        assert listed.status_code == HTTPStatus.OK, listed.content
        sessions = listed.parsed.sessions
        assert len(sessions) == 2
        (this,) = [s for s in sessions if s.current]
        (other,) = [s for s in sessions if not s.current]
        assert this.client_address == "127.0.0.1" and this.created_at <= this.last_seen_at
        ended = end_session.sync_detailed(client=authed, id=other.id)
        assert ended.status_code == HTTPStatus.OK, ended.content
        assert ended.parsed.message == "Signed out"
        again = end_session.sync_detailed(client=authed, id=other.id)
        assert again.status_code == HTTPStatus.NOT_FOUND
        assert again.parsed.message == "Session not found"
    assert me_status(base_url, phone) == HTTPStatus.UNAUTHORIZED
    assert me_status(base_url, laptop) == HTTPStatus.OK


def test_deleting_the_account_needs_the_password_and_frees_the_address(client, base_url, email, server_log):
    register_user(client, email)
    token = sign_in(client, server_log, email)
    with AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True) as authed:
        wrong = delete_account.sync_detailed(client=authed, body=AccountDeletion(current_password="not my password"))
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED
        assert wrong.parsed.message == "Current password is incorrect"
        deleted = delete_account.sync_detailed(client=authed, body=AccountDeletion(current_password=PASSWORD))
        assert deleted.status_code == HTTPStatus.OK, deleted.content
        assert deleted.parsed.message == "Account deleted"
    assert me_status(base_url, token) == HTTPStatus.UNAUTHORIZED
    register_user(client, email)


def test_the_activity_lists_a_wrong_password_and_the_sign_ins_newest_first_a_page_at_a_time(
    client, base_url, email, server_log
):
    register_user(client, email)
    sign_in(client, server_log, email)
    token = sign_in(client, server_log, email)
    wrong = login.sync_detailed(client=client, body=Credentials(username=email, password="not-the-password"))
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED
    with AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True) as authed:
        sessions = list_sessions.sync_detailed(client=authed).parsed.sessions
        (this,) = [s.id for s in sessions if s.current]
        (earlier,) = [s.id for s in sessions if not s.current]
        listed = list_activity.sync_detailed(client=authed, limit=100)
        assert listed.status_code == HTTPStatus.OK, listed.content
        whole = listed.parsed
        assert isinstance(whole, ActivityList)
        assert (whole.success, whole.message, whole.next_cursor) == (True, "Activity", UNSET)
        events = whole.events
        # Each sign-in names the session it opened; only this token's is the current one.
        assert [(e.event, given(e.detail), given(e.session_id), e.current_session) for e in events] == [
            ("wrong_password", None, None, False),
            ("signed_in", None, this, True),
            ("code_sent", "sign_in", None, False),
            ("signed_in", None, earlier, False),
            ("code_sent", "sign_in", None, False),
            ("registered", None, None, False),
        ]
        assert all(e.client_address == "127.0.0.1" for e in events), [e.to_dict() for e in events]
        assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)

        # Two at a time, each page's `next_cursor` to the next: every event once, in order.
        pages, cursor = [], UNSET
        while True:
            page = list_activity.sync_detailed(client=authed, limit=2, cursor=cursor)
            assert page.status_code == HTTPStatus.OK, page.content
            pages.append([e.to_dict() for e in page.parsed.events])
            cursor = page.parsed.next_cursor
            if cursor is UNSET:
                break
            assert len(pages) < len(events), "the cursors never reach a last page"
        assert [len(p) for p in pages] == [2, 2, 2]
        assert [e for p in pages for e in p] == [e.to_dict() for e in events]

        for limit, cursor, message in [
            (0, UNSET, "Limit must be between 1 and 100"),
            (101, UNSET, "Limit must be between 1 and 100"),
            (2, "abc", "Invalid cursor"),
        ]:
            refused = list_activity.sync_detailed(client=authed, limit=limit, cursor=cursor)
            assert refused.status_code == HTTPStatus.BAD_REQUEST, (limit, cursor)
            assert (refused.parsed.success, refused.parsed.message) == (False, message)


def test_changing_the_address_needs_the_password_and_the_code_mailed_to_the_new_one(
    client, base_url, email, server_log
):
    new = email.replace("@", "-new@")
    register_user(client, email)
    here = sign_in(client, server_log, email)
    elsewhere = sign_in(client, server_log, email)
    with AuthenticatedClient(base_url=base_url, token=here, raise_on_unexpected_status=True) as authed:
        wrong = change_email.sync_detailed(
            client=authed, body=EmailChangeRequest(new_username=new, current_password="not my password")
        )
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED
        assert (wrong.parsed.success, wrong.parsed.message) == (False, "Current password is incorrect")
        assert server_log.codes(new, purpose="EmailChange") == []

        asked = change_email.sync_detailed(
            client=authed, body=EmailChangeRequest(new_username=new, current_password=PASSWORD)
        )
        assert asked.status_code == HTTPStatus.OK, asked.content
        assert (asked.parsed.success, asked.parsed.message) == (True, "Code sent to the new address")
        code = server_log.code_after(new, seen=0, purpose="EmailChange")
        assert server_log.codes(email, purpose="EmailChange") == []

    # The code is for the session that asked.
    with AuthenticatedClient(base_url=base_url, token=elsewhere, raise_on_unexpected_status=True) as other:
        refused = confirm_email_change.sync_detailed(client=other, body=EmailChangeConfirmation(code=code))
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert (refused.parsed.success, refused.parsed.message) == (False, "Invalid or expired code")

    with AuthenticatedClient(base_url=base_url, token=here, raise_on_unexpected_status=True) as authed:
        assert get_current_user.sync_detailed(client=authed).parsed.username == email, "nothing changed yet"
        confirmed = confirm_email_change.sync_detailed(client=authed, body=EmailChangeConfirmation(code=code))
        assert confirmed.status_code == HTTPStatus.OK, confirmed.content
        assert isinstance(confirmed.parsed, EmailChanged)
        assert (confirmed.parsed.success, confirmed.parsed.message) == (True, "Email address changed")
        assert confirmed.parsed.username == new
        assert get_current_user.sync_detailed(client=authed).parsed.username == new
    assert me_status(base_url, elsewhere) == HTTPStatus.UNAUTHORIZED

    old = login.sync_detailed(client=client, body=Credentials(username=email, password=PASSWORD))
    assert old.status_code == HTTPStatus.UNAUTHORIZED
    assert old.parsed.message == "Invalid username or password"
    with AuthenticatedClient(base_url=base_url, token=sign_in(client, server_log, new)) as again:
        assert get_current_user.sync_detailed(client=again).parsed.username == new


def test_the_mail_language_is_the_registrations_accept_language_until_another_is_chosen(
    client, base_url, email, server_log
):
    with Client(base_url=base_url, headers={"Accept-Language": "de"}, raise_on_unexpected_status=True) as german:
        register_user(german, email)
    token = sign_in(client, server_log, email)
    with AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True) as authed:
        assert get_current_user.sync_detailed(client=authed).parsed.language == MailLanguage.DE

        changed = set_language.sync_detailed(client=authed, body=LanguageChoice(language=MailLanguage.ES))
        assert changed.status_code == HTTPStatus.OK, changed.content
        assert (changed.parsed.success, changed.parsed.message) == (True, "Language changed")
        assert get_current_user.sync_detailed(client=authed).parsed.language == MailLanguage.ES

        # The SDK's enum cannot hold another language: the raw request, on the client's own connection.
        refused = authed.get_httpx_client().put("/me/language", json={"language": "it"})
        assert refused.status_code == HTTPStatus.BAD_REQUEST
        assert refused.json() == {
            "success": False,
            "message": 'Request body must be a JSON object with a field "language": "en", "de", "es" or "fr"',
        }
        assert get_current_user.sync_detailed(client=authed).parsed.language == MailLanguage.ES
