// The checker the browser tests rely on must itself refuse what the spec does not allow.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");

const API = "http://127.0.0.1:3000";
const contract = loadContract(OPENAPI, API);
const JSON_TYPE = { "content-type": "application/json" };
const post = (path, body, headers = JSON_TYPE) => ({ method: "POST", url: API + path, headers, body: JSON.stringify(body) });

test("the spec has the operations the pages use", () => {
  const used = [
    "register", "login", "verify", "getCurrentUser", "listSessions", "endSession", "refresh", "logout", "requestPasswordReset",
    "resetPassword", "changePassword", "deleteAccount", "listActivity", "changeEmail", "confirmEmailChange", "setLanguage",
  ];
  for (const id of used) assert.ok(contract.operationIds.includes(id), id);
});

test("conforming requests pass", () => {
  assert.deepEqual(contract.check(post("/register", { username: "a@example.com", password: "12345678" })), []);
  assert.deepEqual(contract.check(post("/verify", { username: "a@example.com", code: "123456" })), []);
  const challenge = "6f1c3a9e0b7d4c2e8a5f1b3d7e9c0a42";
  assert.deepEqual(contract.check(post("/verify", { username: "a@example.com", code: "123456", challenge })), []);
  assert.deepEqual(contract.check({ method: "GET", url: API + "/me", headers: { authorization: "Bearer abc.def.ghi" }, body: null }), []);
  // /logout's body is optional.
  const bearer = { authorization: "Bearer abc.def.ghi" };
  assert.deepEqual(contract.check({ method: "POST", url: API + "/logout", headers: bearer, body: null }), []);
  assert.deepEqual(contract.check(post("/logout", { scope: "all" }, { ...JSON_TYPE, ...bearer })), []);
  const change = { current_password: "old one", new_password: "a new passphrase" };
  assert.deepEqual(contract.check(post("/change-password", change, { ...JSON_TYPE, ...bearer })), []);
  assert.deepEqual(contract.check(post("/request-password-reset", { username: "a@example.com" })), []);
  const reset = { username: "a@example.com", code: "123456", new_password: "a new passphrase" };
  assert.deepEqual(contract.check(post("/reset-password", reset)), []);
  assert.deepEqual(contract.check(post("/reset-password", { ...reset, challenge })), []);
  const byLink = { username: "a@example.com", token: challenge, new_password: "a new passphrase" };
  assert.deepEqual(contract.check(post("/reset-password", byLink)), []);
  assert.deepEqual(contract.check({ method: "GET", url: API + "/me/activity", headers: bearer, body: null }), []);
  assert.deepEqual(contract.check({ method: "GET", url: API + "/me/activity?cursor=1841", headers: bearer, body: null }), []);
  const move = { new_username: "b@example.com", current_password: "old one" };
  assert.deepEqual(contract.check(post("/change-email", move, { ...JSON_TYPE, ...bearer })), []);
  assert.deepEqual(contract.check(post("/confirm-email-change", { code: "123456" }, { ...JSON_TYPE, ...bearer })), []);
  const language = { ...post("/me/language", { language: "de" }, { ...JSON_TYPE, ...bearer }), method: "PUT" };
  assert.deepEqual(contract.check(language), []);
});

test("a body breaking only the value rules conforms only when the server answered 400", () => {
  const typedBadly = post("/register", { username: "not-an-email", password: "short" });
  assert.deepEqual(contract.check({ ...typedBadly, status: 400 }), []);
  for (const status of [201, 409, undefined]) {
    assert.match(contract.check({ ...typedBadly, status }).join("\n"), /breaks the request schema .*not 400/, String(status));
  }
  const shortCode = post("/verify", { username: "a@example.com", code: "12345" });
  assert.deepEqual(contract.check({ ...shortCode, status: 400 }), []);
  assert.notDeepEqual(contract.check({ ...shortCode, status: 401 }), []);
  const shortReset = post("/reset-password", { username: "a@example.com", code: "123456", new_password: "short" });
  assert.deepEqual(contract.check({ ...shortReset, status: 400 }), []);
  assert.notDeepEqual(contract.check({ ...shortReset, status: 200 }), []);
});

test("requests outside the spec are caught", () => {
  const cases = {
    "unknown path": post("/signout", {}),
    "logout without a token": { method: "POST", url: API + "/logout", headers: {}, body: null },
    "unknown scope": post("/logout", { scope: "device" }, { ...JSON_TYPE, authorization: "Bearer x" }),
    "change without a token": post("/change-password", { current_password: "a", new_password: "a new passphrase" }),
    "activity without a token": { method: "GET", url: API + "/me/activity", headers: {}, body: null },
    "a new address without the password": post("/change-email", { new_username: "b@example.com" }, { ...JSON_TYPE, authorization: "Bearer x" }),
    "a new address under the sign-in field name": post("/change-email", { username: "b@example.com", current_password: "a" }, { ...JSON_TYPE, authorization: "Bearer x" }),
    "an address change confirmed without a token": post("/confirm-email-change", { code: "123456" }),
    "a language the spec does not list": { ...post("/me/language", { language: "it" }, { ...JSON_TYPE, authorization: "Bearer x" }), method: "PUT" },
    "a language chosen without a token": { ...post("/me/language", { language: "de" }), method: "PUT" },
    "a language chosen by POST": post("/me/language", { language: "de" }, { ...JSON_TYPE, authorization: "Bearer x" }),
    "reset with the sign-in field name": post("/reset-password", { username: "a@example.com", code: "123456", password: "a new passphrase" }),
    "wrong method": { method: "GET", url: API + "/login", headers: {}, body: null },
    "another origin": { ...post("/login", { username: "a@example.com", password: "x" }), url: "http://127.0.0.1:3001/login" },
    "missing field": post("/verify", { username: "a@example.com" }),
    "extra field": post("/login", { username: "a@example.com", password: "12345678", remember: true }),
    "wrong type": post("/verify", { username: "a@example.com", code: 123456 }),
    "a challenge that is not a string": post("/verify", { username: "a@example.com", code: "123456", challenge: 42 }),
    "a reset token in the wrong field": post("/reset-password", { username: "a@example.com", link: "0".repeat(32), new_password: "a new passphrase" }),
    "not JSON": { ...post("/login", {}), body: "username=a" },
    "form content type": post("/login", { username: "a@example.com", password: "x" }, { "content-type": "application/x-www-form-urlencoded" }),
    "no body": { method: "POST", url: API + "/register", headers: JSON_TYPE, body: null },
    "no bearer token": { method: "GET", url: API + "/me", headers: {}, body: null },
    "query string": { method: "GET", url: API + "/me?token=abc", headers: { authorization: "Bearer x" }, body: null },
  };
  for (const [name, request] of Object.entries(cases)) {
    assert.notDeepEqual(contract.check(request), [], name);
  }
});
