// jose, given only the discovery URL, verifies otp-login's access tokens and refuses forgeries.
// `node verify.mjs check TOKENS.json`: the token and forgeries verify.py wrote.
// `node verify.mjs stream BASE AUDIENCE`: one token a line on stdin, "ok" or the error out,
// through one cached remote key set (as a long-running service holds it).
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createRemoteJWKSet, jwtVerify } from "jose";

async function verifier(discoveryUrl, audience) {
  const discovery = await (await fetch(discoveryUrl)).json();
  const keys = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const verify = (token, options = {}) =>
    jwtVerify(token, keys, {
      algorithms: ["RS256"],
      issuer: discovery.issuer,
      audience,
      requiredClaims: ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"],
      ...options,
    });
  return { discovery, verify };
}

function checkClaims(claims, issuer, audience, email) {
  const kinds = {
    iss: "string", sub: "string", email: "string", sid: "string", jti: "string",
    token_use: "string", iat: "number", nbf: "number", exp: "number",
  };
  for (const [name, kind] of Object.entries(kinds)) {
    if (typeof claims[name] !== kind) throw new Error(`claim ${name} missing or not a ${kind}`);
  }
  for (const name of ["iat", "nbf", "exp"]) {
    if (!Number.isInteger(claims[name])) throw new Error(`claim ${name} is not an integer`);
  }
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== issuer || !aud.includes(audience)) throw new Error("iss or aud");
  if (claims.sub.includes("@")) throw new Error("sub must be an opaque id, not the email");
  if (claims.email !== email) throw new Error("email");
  if (claims.token_use !== "access") throw new Error("token_use");
  console.log("  claims checked: " + ["aud", ...Object.keys(kinds)].map((k) => `${k}=${JSON.stringify(claims[k])}`).join(", "));
}

// Each refused for its own reason, not by luck of the key type (see verify.py).
const reasons = {
  "forged kid": "ERR_JWKS_NO_MATCHING_KEY",
  "HS256 with the public PEM": "ERR_JOSE_ALG_NOT_ALLOWED",
  "HS256 with the JWK's n": "ERR_JOSE_ALG_NOT_ALLOWED",
  "alg none": "ERR_JOSE_ALG_NOT_ALLOWED",
  "tampered payload": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  "wrong aud": "ERR_JWT_CLAIM_VALIDATION_FAILED",
  "wrong iss": "ERR_JWT_CLAIM_VALIDATION_FAILED",
  expired: "ERR_JWT_EXPIRED",
  "not yet valid": "ERR_JWT_CLAIM_VALIDATION_FAILED",
};

async function refuse(name, promise) {
  try {
    await promise;
  } catch (error) {
    if (error.code !== reasons[name]) throw new Error(`${name}: refused with ${error.code ?? error}, expected ${reasons[name]}`);
    console.log(`  refused ${name}: ${error.code}: ${error.message}`);
    return;
  }
  throw new Error(`jose accepted the ${name} token`);
}

async function check(file) {
  const given = JSON.parse(readFileSync(file, "utf8"));
  const { discovery, verify } = await verifier(given.discovery, given.audience);
  console.log(`jose: discovery ${given.discovery} -> jwks_uri ${discovery.jwks_uri}`);
  const { payload } = await verify(given.token);
  checkClaims(payload, discovery.issuer, given.audience, given.email);
  for (const [name, token] of Object.entries(given.bad)) await refuse(name, verify(token));
  // Expired and not yet valid: the real token seen from a clock past exp, or before nbf.
  await refuse("expired", verify(given.token, { currentDate: new Date((payload.exp + 5) * 1000) }));
  await refuse("not yet valid", verify(given.token, { currentDate: new Date((payload.nbf - 30) * 1000) }));
}

async function stream(base, audience) {
  const { verify } = await verifier(`${base}/.well-known/openid-configuration`, audience);
  for await (const line of createInterface({ input: process.stdin })) {
    try {
      await verify(line.trim());
      process.stdout.write("ok\n");
    } catch (error) {
      process.stdout.write(`${error.code ?? error.name}: ${error.message}\n`);
    }
  }
}

const [mode, ...args] = process.argv.slice(2);
await (mode === "stream" ? stream(...args) : check(...args));
