"""The sign-in flow through the Lambda runtime path: Function URL requests to `cargo lambda watch`,
which runs otp-login as a Lambda function, with codes delivered through the SES emulator.

Usage: flow.py FUNCTION_URL_BASE SES_ENDPOINT PAGES_URL
Standard library only, so it runs wherever python3 does.
"""

import html
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from email import message_from_string
from email import policy as mail_policy

BASE, SES, PAGES = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"), sys.argv[3]
ORIGIN = "https://pages.example.com"
results = []


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, error.headers, error.read()
    is_json = (head.get("Content-Type") or "").startswith("application/json")
    return status, head, (json.loads(raw) if is_json and raw else raw)


def check(name, condition, detail=""):
    results.append(condition)
    print(f"{'ok ' if condition else 'FAIL'} {name}{'' if condition else ': ' + str(detail)}")


used = set()


def delivered(to, subject="Your sign-in code"):
    """The code of the one message with `subject` to `to` not read before (the emulator does not
    keep them in order), and the reset link in its HTML part if any. SES takes the whole MIME
    message (raw content); the emulator keeps it as sent."""
    with urllib.request.urlopen(SES + "/moto-api/data.json", timeout=10) as response:
        raws = [m["raw_data"] for m in json.load(response).get("ses", {}).get("RawMessage", [])]
    for raw in raws:
        message = message_from_string(raw, policy=mail_policy.default)
        if message["To"] != to or message["Subject"] != subject or raw in used:
            continue
        text = message.get_body(preferencelist=("plain",)).get_content()
        markup = message.get_body(preferencelist=("html",)).get_content()
        codes = re.findall(r"(?<!\d)\d{6}(?!\d)", text)
        if codes:
            used.add(raw)
            link = re.search(r'href="([^"]*reset\.html#[^"]*)"', markup)
            return codes[0], html.unescape(link.group(1)) if link else None
    return None, None


def delivered_code(to, subject="Your sign-in code"):
    return delivered(to, subject)[0]


email = f"lambda-{uuid.uuid4().hex[:12]}@example.com"
password = "correct horse battery"

status, _, body = call("POST", "/register", {"username": email, "password": password})
check("register answers 201", status == 201, (status, body))
status, _, body = call("POST", "/register", {"username": email, "password": password})
check("registering again answers 409", status == 409, (status, body))
status, _, body = call("POST", "/login", {"username": email, "password": "wrong password"})
check("a wrong password answers 401", status == 401, (status, body))
status, _, body = call("POST", "/login", {"username": email, "password": password})
check("login answers 200 and sends a code", status == 200, (status, body))
challenge = (body or {}).get("challenge", "") if status == 200 else ""
check("the login answer carries a challenge", re.fullmatch(r"[0-9a-f]{32}", challenge) is not None, body)
code = delivered_code(email)
check("the code arrived through SES", code is not None)
# With the challenge, as a client whose address changes between the two steps must send it.
status, _, body = call("POST", "/verify", {"username": email, "code": code or "000000", "challenge": challenge})
check("verify with the challenge answers 200 with a bearer token", status == 200 and body.get("token_type") == "Bearer", (status, body))
token = (body or {}).get("token", "")
refresh_token = (body or {}).get("refresh_token", "")
status, _, body = call("GET", "/me", headers={"Authorization": f"Bearer {token}"})
check("/me names the user", status == 200 and body.get("username") == email, (status, body))
status, _, body = call("POST", "/refresh", {"refresh_token": refresh_token})
check("refresh answers a new access token and the next refresh token",
      status == 200 and body.get("token") and body.get("refresh_token") not in ("", refresh_token), (status, body))
token, refresh_token = (body or {}).get("token", ""), (body or {}).get("refresh_token", "")
status, _, body = call("GET", "/me", headers={"Authorization": f"Bearer {token}"})
check("the refreshed token names the user", status == 200 and body.get("username") == email, (status, body))
status, _, body = call("POST", "/verify", {"username": email, "code": code or "000000", "challenge": challenge})
check("the code does not work twice", status == 401, (status, body))

# The rest of an account's life: sign-out holds, and the reset mail's link sets a new password
# (its code is bound to the request's challenge, and the link spends it).
# (The default limits send one sign-in code a minute per username: no second sign-in here.)
status, _, body = call("POST", "/logout", headers={"Authorization": f"Bearer {token}"})
check("logout answers 200", status == 200, (status, body))
status, _, body = call("GET", "/me", headers={"Authorization": f"Bearer {token}"})
check("a signed-out token is refused", status == 401, (status, body))
status, _, body = call("POST", "/refresh", {"refresh_token": refresh_token})
check("a signed-out session's refresh token is refused", status == 401, (status, body))
status, _, body = call("POST", "/request-password-reset", {"username": email})
check("request-password-reset answers 200 with a challenge", status == 200 and len(body.get("challenge", "")) == 32, (status, body))
reset_challenge = (body or {}).get("challenge", "0" * 32)
reset_code, link = delivered(email, "Your password reset code")
check("the reset code arrived through SES", reset_code is not None)
link_fields = dict(part.split("=", 1) for part in (link or "#").split("#", 1)[1].split("&") if "=" in part)
check("the mail links to PAGES_URL's reset page with the address and a token",
      (link or "").startswith(PAGES + "reset.html#") and re.fullmatch(r"[0-9a-f]{32}", link_fields.get("token", ""))
      and urllib.parse.unquote(link_fields.get("username", "")) == email, link)
new_password = "a brand new passphrase"
wrong_challenge = "f" * 32 if reset_challenge != "f" * 32 else "e" * 32
status, _, body = call("POST", "/reset-password", {
    "username": email, "code": reset_code or "000000", "challenge": wrong_challenge, "new_password": new_password})
check("the reset code with another challenge answers 401", status == 401, (status, body))
status, _, body = call("POST", "/reset-password", {
    "username": email, "token": link_fields.get("token", "0" * 32), "new_password": new_password})
check("reset-password with the link's token answers 200", status == 200, (status, body))
status, _, body = call("POST", "/reset-password", {
    "username": email, "code": reset_code or "000000", "challenge": reset_challenge, "new_password": "yet another passphrase"})
check("the link spent the reset code too", status == 401, (status, body))
status, _, body = call("POST", "/login", {"username": email, "password": password})
check("the old password is refused", status == 401, (status, body))
status, _, body = call("POST", "/login", {"username": email, "password": new_password})
check("the new password is accepted", status == 200, (status, body))
status, _, body = call("GET", "/nowhere")
check("unknown routes answer the JSON 404", status == 404 and body == {"success": False, "message": "Route not found"}, (status, body))
status, _, body = call("GET", "/docs/")
check("Swagger UI is served", status == 200, status)

status, head, _ = call("OPTIONS", "/login", headers={
    "Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
origins = head.get_all("Access-Control-Allow-Origin") or []
check("a preflight carries exactly one Access-Control-Allow-Origin", status < 300 and origins == [ORIGIN], (status, origins))
status, head, _ = call("POST", "/login", {"username": email, "password": "wrong password"}, {"Origin": ORIGIN})
origins = head.get_all("Access-Control-Allow-Origin") or []
check("a cross-origin POST carries exactly one Access-Control-Allow-Origin", origins == [ORIGIN], origins)

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if all(results) else 1)
