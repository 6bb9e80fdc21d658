"""schemathesis hooks for tests/schemathesis/run: the one 400 a schema-valid request may get,
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


@schemathesis.check
def only_a_breached_password_refuses_a_valid_new_password(ctx, response, case):
    """A request that sets a password and matches its schema gets 400 only for a breached one.

    Whether a password is on the breached list is the one rule of a request that no schema can
    state; schemathesis.toml lets these operations answer 400 to valid data, and this check
    holds that 400 to the breached-password message.
    """
    if case.operation.path not in SETS_A_PASSWORD or response.status_code != 400:
        return None
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    message = response.json().get("message")
    if message != BREACHED:
        raise AssertionError(f"A new password that matches the schema was refused: {message!r}")
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

    For /change-password the password is the case's own `current_password` when the policy
    takes it, so a generated change can succeed; with a fixed password every case would meet
    only "Current password is incorrect". Cases whose current password the policy refuses (too
    short, breached, control characters, not an object) keep PASSWORD and test that 401.
    """
    body = case.body if isinstance(case.body, dict) else {}
    current = body.get("current_password") if case.operation.path == "/change-password" else None
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
# other sessions and counts wrong current passwords against its user, so each case gets a user
# and a session of its own, and nothing one case does reaches another.
@schemathesis.auth(refresh_interval=None).apply_to(path=["/me", "/logout", "/change-password"])
class FreshSession:
    def get(self, case, ctx):
        username = f"fuzz-{uuid.uuid4().hex[:16]}@example.com"
        password = _register(username, case)
        _post("/login", {"username": username, "password": password})
        return _post("/verify", {"username": username, "code": _code_for(username)})["token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
