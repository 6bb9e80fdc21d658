"""schemathesis hooks for tests/schemathesis/run: the one 400 a schema-valid request may get."""

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

BREACHED = "Password is too common; choose one that is harder to guess"


@schemathesis.check
def only_a_breached_password_refuses_a_valid_registration(ctx, response, case):
    """A registration that matches its schema gets 400 only for a breached password.

    Whether a password is on the breached list is the one rule of a request that no schema can
    state; schemathesis.toml lets /register answer 400 to valid data, and this check holds that
    400 to the breached-password message.
    """
    if case.operation.path != "/register" or response.status_code != 400:
        return None
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    message = response.json().get("message")
    if message != BREACHED:
        raise AssertionError(f"A registration that matches the schema was refused: {message!r}")
    return None
