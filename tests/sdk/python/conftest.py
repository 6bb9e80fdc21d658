"""Fixtures for driving a running otp-login through the generated Python SDK.

tests/sdk/run starts the server and sets OTP_BASE_URL, OTP_SERVER_LOG (the server's output, where
the development mailer writes codes) and SDK_PY_DIR (where it generated `otp_login_client`).
"""

import itertools
import os
import re
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.environ["SDK_PY_DIR"])

from otp_login_client import Client  # noqa: E402

_RUN = uuid.uuid4().hex[:10]
_COUNTER = itertools.count()


@pytest.fixture
def base_url():
    return os.environ["OTP_BASE_URL"]


@pytest.fixture
def client(base_url):
    # raise_on_unexpected_status: a status the spec does not list fails the test.
    with Client(base_url=base_url, timeout=10.0, raise_on_unexpected_status=True) as c:
        yield c


@pytest.fixture
def email():
    """A username no other test (or earlier run) has used."""
    return f"sdk-py-{_RUN}-{next(_COUNTER)}@example.com"


class ServerLog:
    """Reads codes the development mailer wrote to the server's output. A code's purpose is
    `SignIn`, `PasswordReset` or `EmailChange` (the "Confirm your new address" mail, which goes
    to the new address)."""

    def __init__(self, path):
        self.path = path

    def codes(self, email, purpose="SignIn"):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        return re.findall(
            rf"development mailer: code .*?to={re.escape(email.lower())} code=(\d{{6}}) purpose={purpose}\b",
            text,
        )

    def code_after(self, email, seen, timeout=10.0, purpose="SignIn"):
        """The first code of `purpose` for `email` after the `seen` codes it already had."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = self.codes(email, purpose)
            if len(codes) > seen:
                return codes[seen]
            time.sleep(0.05)
        raise AssertionError(f"no {purpose} code for {email} in {self.path} within {timeout}s")


@pytest.fixture
def server_log():
    return ServerLog(os.environ["OTP_SERVER_LOG"])
