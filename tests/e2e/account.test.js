// The rest of an account's life in the browser: a forgotten password reset by emailed code,
// a password change, and signing out on the server (here, and everywhere).
const assert = require("node:assert/strict");
const { after, before, test } = require("node:test");
const { startApi } = require("./lib/api-server");
const { launchBrowser, screenshot } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");

let api;
let browser;
before(async () => {
  api = await startApi();
  browser = await launchBrowser();
}, { timeout: 60000 });
after(async () => {
  await browser?.close();
  await api?.stop();
}, { timeout: 60000 });

const T = { timeout: 60000 };
const NEW_PASSWORD = "a brand new passphrase";

/** Registers and signs in through the pages; leaves the page on the account. */
async function signedIn(page, email, password = s.PASSWORD) {
  await s.register(page, api.url, email, password);
  await page.waitForURL("**/login.html?registered");
  await s.requestCode(page, api.url, email, password);
  await s.enterCode(page, await api.nextCode(email, api.codes(email).length - 1));
  await s.expectSignedIn(page, email);
  return page.evaluate(() => sessionStorage.getItem("otp-login.token"));
}

/** A session of `email` opened straight through the API, as on another device. */
async function sessionElsewhere(email, password) {
  const seen = api.codes(email).length;
  const post = (path, body) => fetch(api.url + path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  assert.equal((await post("/login", { username: email, password })).status, 200);
  const code = await api.nextCode(email, seen);
  const verified = await post("/verify", { username: email, code });
  assert.equal(verified.status, 200);
  return (await verified.json()).token;
}

const me = (token) => fetch(api.url + "/me", { headers: { Authorization: "Bearer " + token } });

test("a forgotten password is reset with the emailed code, then signs in", T, async () => {
  const email = s.newEmail("reset");
  const page = await browser.newPage();
  await s.register(page, api.url, email);
  await page.waitForURL("**/login.html?registered");
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.waitForURL("**/reset.html");
  assert.equal(await page.getByLabel("Email", { exact: true }).inputValue(), email, "email carried over");
  await screenshot(page, "reset-request");
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await s.expectText(page, "#reset-email", email);

  // A wrong code, then a new password that breaks the rules, each said in words.
  const code = await api.nextResetCode(email);
  const wrong = String((Number(code) + 1) % 1000000).padStart(6, "0");
  await page.getByLabel("6-digit code").fill(wrong);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set new password" }).click();
  await s.expectText(page, "#reset-status", "That code is wrong or has expired");
  await screenshot(page, "reset-wrong-code");
  await page.getByLabel("6-digit code").fill(code);
  await page.getByLabel("New password", { exact: true }).fill("short");
  await page.getByRole("button", { name: "Set new password" }).click();
  await s.expectText(page, "#reset-password-error", "Password must be at least 8 characters");

  // "Send a new code": only the newest works.
  await page.getByRole("button", { name: "Send a new code" }).click();
  await s.expectText(page, "#reset-status", "A new code is on its way");
  const second = await api.nextResetCode(email, 1);
  await page.getByLabel("6-digit code").fill(second);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await screenshot(page, "reset-new-password");
  await page.getByLabel("New password", { exact: true }).press("Enter");

  await page.waitForURL("**/login.html?password-changed");
  await s.expectText(page, "#login-status", "Password changed");
  await page.getByLabel("Password", { exact: true }).fill(s.PASSWORD);
  await page.getByRole("button", { name: "Send me a code" }).click();
  await s.expectText(page, "#login-status", "Wrong email or password");
  await s.requestCode(page, api.url, email, NEW_PASSWORD);
  await s.enterCode(page, await api.nextCode(email));
  await s.expectSignedIn(page, email);
});

test("the reset page answers an unknown email as any other", T, async () => {
  const page = await browser.newPage();
  await page.goto(api.url + "/reset.html");
  await page.getByLabel("Email", { exact: true }).fill(s.newEmail("nobody"));
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await page.getByRole("button", { name: "Use a different email" }).click();
  await page.getByLabel("Email", { exact: true }).fill("not-an-email");
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await s.expectText(page, "#request-username-error", "Enter a valid email address");
});

test("changing the password keeps this session and signs out the others", T, async () => {
  const email = s.newEmail("change");
  const page = await browser.newPage();
  const token = await signedIn(page, email);
  const elsewhere = await sessionElsewhere(email, s.PASSWORD);

  await page.getByLabel("Current password", { exact: true }).fill("not my password");
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await s.expectText(page, "#change-current-error", "That is not your current password");
  await page.getByLabel("Current password", { exact: true }).fill(s.PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill("short");
  await page.getByRole("button", { name: "Change password" }).click();
  await s.expectText(page, "#change-password-error", "Password must be at least 8 characters");
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await s.expectText(page, "#change-status", "Password changed");
  await screenshot(page, "account-password-changed");

  assert.equal((await me(token)).status, 200, "this session goes on");
  assert.equal((await me(elsewhere)).status, 401, "the other session ended");
  const login = (password) => fetch(api.url + "/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: email, password }),
  });
  assert.equal((await login(s.PASSWORD)).status, 401);
  assert.equal((await login(NEW_PASSWORD)).status, 200);
});

test("signing out ends the session on the server: the old token is refused", T, async () => {
  const email = s.newEmail("signout");
  const page = await browser.newPage();
  const token = await signedIn(page, email);
  const elsewhere = await sessionElsewhere(email, s.PASSWORD);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL("**/login.html?signed-out");
  await s.expectText(page, "#login-status", "You have signed out");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("otp-login.token")), null);
  assert.equal((await me(token)).status, 401, "a copied token no longer works");
  assert.equal((await me(elsewhere)).status, 200, "only this session ended");
});

test("signing out everywhere ends every session of the account", T, async () => {
  const email = s.newEmail("everywhere");
  const page = await browser.newPage();
  const token = await signedIn(page, email);
  const elsewhere = await sessionElsewhere(email, s.PASSWORD);
  await screenshot(page, "account-signed-in");
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await page.waitForURL("**/login.html?signed-out-everywhere");
  await s.expectText(page, "#login-status", "signed out on every device");
  for (const t of [token, elsewhere]) assert.equal((await me(t)).status, 401);
});

test("a session ended elsewhere is said in words on the account page", T, async () => {
  const email = s.newEmail("ended");
  const page = await browser.newPage();
  const token = await signedIn(page, email);
  const ended = await fetch(api.url + "/logout", { method: "POST", headers: { Authorization: "Bearer " + token } });
  assert.equal(ended.status, 200);
  await page.getByLabel("Current password", { exact: true }).fill(s.PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await s.expectText(page, "#change-status", "Your session has ended");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("otp-login.token")), null, "the dead token is forgotten");
  await page.reload();
  await page.waitForURL("**/login.html");
});

test("every request these pages made matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, api.url);
  const requests = await s.assertRequestsConform(browser, contract);
  const used = new Set(requests.map((r) => contract.operationOf(r).id));
  for (const id of ["requestPasswordReset", "resetPassword", "changePassword", "logout"]) {
    assert.ok(used.has(id), id);
  }
});
