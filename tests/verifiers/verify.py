"""PyJWT, given only the discovery URL, verifies otp-login's access tokens and refuses forgeries;
then the same tokens go through API Gateway's authorizer rules (apigateway.py) and, over a key
rotation under load, through caching verifiers (PyJWT here, jose in verify.mjs)."""
import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from unittest import mock

import jwt
from cryptography.hazmat.primitives import serialization

import apigateway

PASSWORD = "verifier passphrase 2026"
HERE = os.path.dirname(os.path.abspath(__file__))


def post(base, path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def code_for(log, username):
    pattern = re.compile(rf"to={re.escape(username)} code=(\d{{6}}) purpose=SignIn\b")
    for _ in range(50):
        with open(log, encoding="utf-8", errors="replace") as text:
            found = pattern.findall(text.read())
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no sign-in code for {username} in {log}")


def register(base):
    username = f"verifier-{uuid.uuid4().hex[:16]}@example.com"
    post(base, "/register", {"username": username, "password": PASSWORD})
    return username


def sign_in(base, log, username):
    """register → login → read the mailed code → verify: the access token."""
    challenge = post(base, "/login", {"username": username, "password": PASSWORD})["challenge"]
    code = code_for(log, username)
    return post(base, "/verify", {"username": username, "code": code, "challenge": challenge})["token"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token):
    head, body, _ = token.split(".")
    return [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in (head, body)]


def forge(token, header=None, claims=None, sign=None):
    """`token` with its header and claims changed; signed with `sign`, else its own signature."""
    head, body = parts(token)
    head.update(header or {})
    body.update(claims or {})
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(body).encode())}"
    signature = sign(signing_input.encode()) if sign else token.split(".")[2]
    return f"{signing_input}.{signature}"


def forgeries(token, jwks):
    """What an outsider can make from a real token and the public key set."""
    kid = parts(token)[0]["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    pem = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key)).public_bytes(
        encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo)
    hs256 = lambda secret: lambda data: b64(hmac.new(secret, data, hashlib.sha256).digest())
    return {
        "forged kid": forge(token, header={"kid": "forged-" + kid}),
        "HS256 with the public PEM": forge(token, header={"alg": "HS256"}, sign=hs256(pem)),
        "HS256 with the JWK's n": forge(token, header={"alg": "HS256"}, sign=hs256(key["n"].encode())),
        "alg none": forge(token, header={"alg": "none"}, sign=lambda _: ""),
        "tampered payload": forge(token, claims={"sub": "someone-else", "email": "eve@example.com"}),
    }


@contextlib.contextmanager
def clock_at(when):
    """PyJWT's clock set to `when` (Unix seconds): it reads datetime.now in jwt.api_jwt."""
    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(when, tz)

    with mock.patch("jwt.api_jwt.datetime", Clock):
        yield


def check_claims(claims, issuer, audience):
    """Every claim present and of its kind; printed."""
    kinds = {"iss": str, "aud": (str, list), "sub": str, "email": str, "sid": str,
             "iat": int, "nbf": int, "exp": int, "jti": str, "token_use": str}
    for name, kind in kinds.items():
        assert isinstance(claims.get(name), kind), f"claim {name} missing or not {kind}: {claims}"
    assert claims["iss"] == issuer
    assert audience in (claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]])
    assert "@" not in claims["sub"], "sub must be an opaque id, not the email"
    assert "@" in claims["email"]
    assert claims["token_use"] == "access"
    assert claims["nbf"] <= claims["iat"] + 1 and claims["iat"] < claims["exp"]
    print("  claims checked: " + ", ".join(f"{k}={claims[k]!r}" for k in kinds))


def main():
    env = os.environ
    base, log = env["OTP_VERIFIER_URL"], env["OTP_VERIFIER_LOG"]
    discovery_url = base + "/.well-known/openid-configuration"
    discovery = get(discovery_url)
    issuer, jwks_uri = discovery["issuer"], discovery["jwks_uri"]
    audience = env["OTP_VERIFIER_AUDIENCE"]
    client = jwt.PyJWKClient(jwks_uri, cache_keys=True)

    def verify(token, **extra):
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, audience=audience,
                          options={"require": ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"]},
                          **extra)

    username = register(base)
    token = sign_in(base, log, username)
    print(f"PyJWT {jwt.__version__}: discovery {discovery_url} -> jwks_uri {jwks_uri}")
    claims = verify(token)
    check_claims(claims, issuer, audience)
    assert claims["email"] == username

    jwks = get(jwks_uri)
    bad = forgeries(token, jwks)
    # Validly signed by the same keys, by servers with another audience or issuer.
    bad["wrong aud"] = sign_in(env["OTP_VERIFIER_AUD_URL"], env["OTP_VERIFIER_AUD_LOG"], username)
    bad["wrong iss"] = sign_in(env["OTP_VERIFIER_ISS_URL"], env["OTP_VERIFIER_ISS_LOG"], username)
    assert parts(bad["wrong aud"])[1]["aud"] != audience and parts(bad["wrong aud"])[1]["iss"] == issuer
    assert parts(bad["wrong iss"])[1]["iss"] != issuer
    # Each refused for its own reason: a verifier that let HS256 or none through to the key
    # would still fail on them, but by luck of the key type, and that must fail this test.
    reasons = {"forged kid": jwt.PyJWKClientError, "HS256 with the public PEM": jwt.InvalidAlgorithmError,
               "HS256 with the JWK's n": jwt.InvalidAlgorithmError, "alg none": jwt.InvalidAlgorithmError,
               "tampered payload": jwt.InvalidSignatureError, "wrong aud": jwt.InvalidAudienceError,
               "wrong iss": jwt.InvalidIssuerError}
    for name, forged in bad.items():
        try:
            verify(forged)
        except reasons[name] as refused:
            print(f"  refused {name}: {type(refused).__name__}: {refused}")
        else:
            raise AssertionError(f"PyJWT accepted the {name} token")
    # Expired, not yet valid: the real token seen from a clock past exp, or before nbf.
    for name, at, error in [("expired", claims["exp"] + 5, jwt.ExpiredSignatureError),
                            ("not yet valid", claims["nbf"] - 30, jwt.ImmatureSignatureError)]:
        try:
            with clock_at(at):
                verify(token)
        except error as refused:
            print(f"  refused {name} (clock at {at}): {type(refused).__name__}: {refused}")
        else:
            raise AssertionError(f"PyJWT accepted the {name} token")

    # API Gateway's authorizer: ours passes, each forged or mismatched one fails for its reason.
    assert apigateway.authorize(token, jwks, issuer, [audience]) is None
    assert apigateway.authorize(token, jwks, issuer, ["other", audience]) is None
    expected = {"forged kid": "kid not in jwks_uri", "HS256 with the public PEM": "not RS256 with an RSA key",
                "HS256 with the JWK's n": "not RS256 with an RSA key", "alg none": "not RS256 with an RSA key",
                "tampered payload": "bad signature", "wrong aud": "aud", "wrong iss": "iss"}
    for name, reason in expected.items():
        got = apigateway.authorize(bad[name], jwks, issuer, [audience])
        assert got == reason, f"API Gateway rules: {name} gave {got!r}, expected {reason!r}"
    assert apigateway.authorize(token, jwks, issuer, [audience], now=claims["exp"]) == "exp"
    assert apigateway.authorize(token, jwks, issuer, [audience], now=claims["nbf"] - 1) == "nbf"
    assert apigateway.authorize(token, jwks, "https://elsewhere.example", [audience]) == "iss"
    assert apigateway.authorize(token, jwks, issuer, [audience], scopes=["orders:read"]) == "scope"
    print(f"API Gateway JWT authorizer rules: ours passes, {len(expected) + 4} refusals for the right reason")

    # For verify.mjs: the same tokens, and what to expect of them.
    with open(env["OTP_VERIFIER_TOKENS"], "w") as out:
        json.dump({"discovery": discovery_url, "audience": audience, "token": token,
                   "email": username, "bad": bad}, out)


def rotation():
    """Sign in and verify in a loop with caching verifiers while the keys rotate."""
    env = os.environ
    base, log = env["OTP_VERIFIER_URL"], env["OTP_VERIFIER_LOG"]
    discovery = get(base + "/.well-known/openid-configuration")
    issuer, audience = discovery["issuer"], env["OTP_VERIFIER_AUDIENCE"]
    client = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=True, lifespan=600)
    node = subprocess.Popen(["node", os.path.join(HERE, "verify.mjs"), "stream", base, audience],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    username = register(base)
    counts = {"signed in": 0, "PyJWT": 0, "jose": 0}
    kids = {}
    stop = threading.Event()
    failures = []

    lock = threading.Lock()

    def one(url, server_log, user):
        token = sign_in(url, server_log, user)
        kid = parts(token)[0]["kid"]
        with lock:
            counts["signed in"] += 1
            kids[kid] = kids.get(kid, 0) + 1
            verified(token, kid)
            return kid

    def verified(token, kid):
        try:
            key = client.get_signing_key_from_jwt(token)
            jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, audience=audience)
            counts["PyJWT"] += 1
        except Exception as refused:
            failures.append(f"PyJWT refused a token of {kid}: {refused}")
        node.stdin.write(token + "\n")
        answer = node.stdout.readline().strip()
        if answer == "ok":
            counts["jose"] += 1
        else:
            failures.append(f"jose refused a token of {kid}: {answer}")

    def loop():
        try:
            while not stop.is_set():
                last[0] = one(base, log, username)
        except Exception as error:  # a refused sign-in ends the load: the main thread sees it
            failures.append(f"signing in failed: {error!r}")
            stop.set()

    fresh = []

    def start_fresh(issuer):
        """A second instance of the service, as another Lambda instance would start."""
        port = free_port()
        server_log = os.path.join(os.environ.get("TMPDIR", "/tmp"), "otp-login-verifiers-fresh.log")
        with open(server_log, "w") as out:
            fresh.append(subprocess.Popen([env["OTP_VERIFIER_BIN"]], stdout=out, stderr=subprocess.STDOUT,
                                          env={**env, "PORT": str(port), "TOKEN_ISSUER": issuer}))
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                get(url + "/health")
                return url, server_log
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the fresh instance did not start")

    last = [None]
    worker = threading.Thread(target=loop)
    worker.start()
    cli = [env["OTP_VERIFIER_BIN"], "keys"]
    other = register(base)
    first = parts(sign_in(base, log, other))[0]["kid"]
    try:
        time.sleep(2)
        staged = subprocess.run(cli + ["rotate"], check=True, capture_output=True, text=True).stdout
        print("  keys rotate:", staged.strip())
        standby = re.search(r"standby key (\S+)", staged).group(1)
        # The running server publishes the standby within its key refresh (a minute).
        deadline = time.time() + 75
        while standby not in [k["kid"] for k in get(discovery["jwks_uri"])["keys"]] and not stop.is_set():
            assert time.time() < deadline, "the standby key was never published"
            time.sleep(1)
        print("  standby published by the running server")
        promoted = subprocess.run(cli + ["rotate", "--now"], check=True, capture_output=True, text=True).stdout
        print("  keys rotate --now:", promoted.strip())
        # A fresh instance signs with the new key at once; the running one within its refresh.
        fresh_url, fresh_log = start_fresh(issuer)
        assert one(fresh_url, fresh_log, other) == standby, "a fresh instance did not sign with the new key"
        deadline = time.time() + 75
        while last[0] != standby and not stop.is_set():
            assert time.time() < deadline, "the running server never signed with the new key"
            time.sleep(1)
    finally:
        for server in fresh:
            server.kill()
        stop.set()
        worker.join()
        node.stdin.close()
        node.wait()
    assert not failures, "\n".join(failures)
    assert kids.get(first, 0) > 0 and kids.get(standby, 0) > 0, kids
    print(f"key rotation under load: {counts['signed in']} sign-ins, {counts['PyJWT']} verified by PyJWT, "
          f"{counts['jose']} by jose, none refused; tokens per key: {kids}")


if __name__ == "__main__":
    rotation() if sys.argv[1:] == ["rotation"] else main()
