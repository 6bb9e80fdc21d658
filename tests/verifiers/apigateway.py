"""API Gateway's HTTP API JWT authorizer rules, applied to a token as the service documents them.

The rules, from "Control access to HTTP APIs with JWT authorizers in API Gateway"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html,
"Validating a JWT"), and its troubleshooting page for `aud` against `client_id`
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html):
the header's `kid` names a key of the issuer's `jwks_uri` set, the key is RSA and the token is
RS256, the signature verifies, `iss` equals the configured issuer, `aud` (or `client_id` when
`aud` is absent) matches one configured audience, `exp` is after now, `nbf` and `iat` are before
now, and a route that asks for scopes needs one of them in `scope`/`scp`.
"""
import base64
import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives import hashes


def _part(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def authorize(token, jwks, issuer, audiences, scopes=(), now=None):
    """None when API Gateway would let `token` through, else the rule it breaks."""
    now = time.time() if now is None else now
    try:
        head, body, signature = token.split(".")
        header, claims = json.loads(_part(head)), json.loads(_part(body))
    except ValueError:
        return "malformed"
    key = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    if key is None:
        return "kid not in jwks_uri"
    if key.get("kty") != "RSA" or header.get("alg") != "RS256":
        return "not RS256 with an RSA key"
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key))
    try:
        public.verify(_part(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # cryptography's InvalidSignature, or a signature of the wrong length
        return "bad signature"
    if claims.get("iss") != issuer:
        return "iss"
    aud = claims.get("aud", claims.get("client_id"))
    aud = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences for a in aud):
        return "aud"
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
        return "exp"
    if not isinstance(claims.get("nbf"), (int, float)) or claims["nbf"] > now:
        return "nbf"
    if not isinstance(claims.get("iat"), (int, float)) or claims["iat"] > now:
        return "iat"
    if scopes:
        held = str(claims.get("scope", claims.get("scp", ""))).split()
        if not set(held) & set(scopes):
            return "scope"
    return None
