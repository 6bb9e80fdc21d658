"""schemathesis hooks for tests/schemathesis/run: the few 400s a schema-valid request may get,
and a fresh signed-in session (a user of its own) for every case of an operation behind a bearer
token."""

import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

BREACHED = "Password is too common; choose one that is harder to guess"
# Every operation that sets a password applies the same rules, breached list included.
SETS_A_PASSWORD = {"/register", "/reset-password", "/change-password"}
PASSWORD = "fuzz passphrase 2026"
# /reset-password takes the code (with its challenge) or the link's token: exactly one of the
# two, a rule its schema leaves to the server and the operation's description states.
NO_PROOF = "Code is required"
TWO_PROOFS = "Send either the code (with its challenge) or the link's token, not both"


def _either_or_refusal(case):
    """The 400 message a schema-valid /reset-password body earns by its choice of proofs, if any."""
    body = case.body if isinstance(case.body, dict) else {}
    if case.operation.path != "/reset-password":
        return None
    if "code" not in body and "token" not in body:
        return NO_PROOF
    # The challenge belongs to the code: beside a token it is a second proof too.
    if "token" in body and ("code" in body or "challenge" in body):
        return TWO_PROOFS
    return None


@schemathesis.check
def only_a_breached_password_refuses_a_valid_new_password(ctx, response, case):
    """A request that sets a password and matches its schema gets 400 only for a breached one,
    or, at /reset-password, for sending no proof of the mailbox or two.

    Whether a password is on the breached list is a rule of a request that no schema can state,
    and so (as this spec is written) is the reset's either/or; schemathesis.toml lets these
    operations answer 400 to valid data, and this check holds that 400 to the message the body
    earned: the either/or message only for a body that breaks it, the breached-password one
    otherwise.
    """
    if case.operation.path not in SETS_A_PASSWORD or response.status_code != 400:
        return None
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    message = response.json().get("message")
    expected = _either_or_refusal(case) or BREACHED
    if message != expected:
        raise AssertionError(f"A request that matches the schema was refused with {message!r}, not {expected!r}")
    return None


def _post(path, body):
    request = urllib.request.Request(
        os.environ["OTP_FUZZ_URL"] + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _code_for(username):
    """The sign-in code the development mailer logged for `username`."""
    pattern = re.compile(rf"to={re.escape(username)} code=(\d{{6}}) purpose=SignIn\b")
    for _ in range(200):
        with open(os.environ["OTP_FUZZ_LOG"], encoding="utf-8", errors="replace") as log:
            found = pattern.findall(log.read())
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no sign-in code for {username} in the server log")


def _register(username, case):
    """Creates `username` and answers its password.

    For the operations that check the current password (/change-password, /change-email) the
    password is the case's own `current_password` when the policy takes it, so a generated
    change can succeed; with a fixed password every case would meet only "Current password is
    incorrect". Cases whose current password the policy refuses (too short, breached, control
    characters, not an object) keep PASSWORD and test that 401.
    """
    body = case.body if isinstance(case.body, dict) else {}
    checks_current = case.operation.path in ("/change-password", "/change-email")
    current = body.get("current_password") if checks_current else None
    if isinstance(current, str):
        try:
            _post("/register", {"username": username, "password": current})
            return current
        except urllib.error.HTTPError as refused:
            if refused.code != 400:
                raise
    _post("/register", {"username": username, "password": PASSWORD})
    return PASSWORD


# No caching: /logout ends the session it is called with, /change-password ends the user's
# other sessions and counts wrong current passwords against its user, /change-email mails codes
# against its user's limits, so each case gets a user and a session of its own, and nothing one
# case does reaches another.
@schemathesis.auth(refresh_interval=None).apply_to(
    path=[
        "/me",
        "/logout",
        "/change-password",
        "/me/activity",
        "/me/language",
        "/change-email",
        "/confirm-email-change",
    ]
)
class FreshSession:
    def get(self, case, ctx):
        username = f"fuzz-{uuid.uuid4().hex[:16]}@example.com"
        password = _register(username, case)
        challenge = _post("/login", {"username": username, "password": password})["challenge"]
        code = _code_for(username)
        return _post("/verify", {"username": username, "code": code, "challenge": challenge})["token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
