// A forgotten password in the browser: "Forgot password?" on the sign-in page, the emailed reset
// code, a new password, and signing in with it.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { screenshot } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser();

const T = { timeout: 60000 };
const NEW_PASSWORD = "a brand new passphrase";

/** A registered account whose reset page is on its code step; returns the page. */
async function onCodeStep(email) {
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  await page.goto(suite.api.url + "/reset.html");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  return page;
}

async function setPassword(page, code, password) {
  await page.getByLabel("6-digit code").fill(code);
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Set new password" }).click();
}

const otherCode = (code) => String((Number(code) + 1) % 1000000).padStart(6, "0");

test("a forgotten password is reset with the emailed code, then the new one signs in", T, async () => {
  const email = s.newEmail("reset");
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  const elsewhere = await s.sessionElsewhere(suite.api, email);
  await page.goto(suite.api.url + "/login.html");
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.waitForURL("**/reset.html");
  assert.equal(await page.getByLabel("Email", { exact: true }).inputValue(), email, "email carried over");
  await screenshot(page, "reset-request");
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await s.expectText(page, "#reset-email", email);
  await s.expectText(page, "#reset-status", "Check your email for the reset code");
  const code = await suite.api.nextResetCode(email);
  assert.equal(suite.api.codes(email).length, 1, "a reset code is not counted as a sign-in code");

  await setPassword(page, code, NEW_PASSWORD);
  await page.waitForURL("**/login.html?password-changed");
  await s.expectText(page, "#login-status", "Password changed. Sign in with your new password.");
  await screenshot(page, "reset-done");
  assert.equal(await s.meStatus(suite.api, elsewhere), 401, "a reset ends every session");

  await page.getByLabel("Password", { exact: true }).fill(s.PASSWORD);
  await page.getByRole("button", { name: "Send me a code" }).click();
  await s.expectText(page, "#login-status", "Wrong email or password");
  await s.requestCode(page, suite.api.url, email, NEW_PASSWORD);
  await s.enterCode(page, await suite.api.nextCode(email, 1));
  await s.expectSignedIn(page, email);
});

test("a wrong reset code is refused in words and changes nothing", T, async () => {
  const email = s.newEmail("resetwrong");
  const page = await onCodeStep(email);
  await setPassword(page, otherCode(await suite.api.nextResetCode(email)), NEW_PASSWORD);
  await s.expectText(page, "#reset-status", "That code is wrong or has expired. Check the newest email, or send a new code.");
  assert.ok(await page.locator("#reset-step").isVisible(), "still on the code step");
  await screenshot(page, "reset-wrong-code");
  assert.equal(await s.loginStatus(suite.api, email, s.PASSWORD), 200, "the old password still works");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 401);
});

test("a sign-in code does not reset the password", T, async () => {
  const email = s.newEmail("resetsignin");
  const page = await onCodeStep(email);
  assert.equal(await s.loginStatus(suite.api, email, s.PASSWORD), 200);
  const signInCode = await suite.api.nextCode(email);
  if (signInCode === (await suite.api.nextResetCode(email))) return; // one chance in a million
  await setPassword(page, signInCode, NEW_PASSWORD);
  await s.expectText(page, "#reset-status", "That code is wrong or has expired");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 401, "the password is unchanged");
});

test("a new password that breaks the rules is shown next to its field, and the code still works", T, async () => {
  const email = s.newEmail("resetpolicy");
  const page = await onCodeStep(email);
  const code = await suite.api.nextResetCode(email);
  await setPassword(page, code, "short");
  await s.expectText(page, "#reset-password-error", "Password must be at least 8 characters");
  assert.equal(await page.getByLabel("New password", { exact: true }).getAttribute("aria-invalid"), "true");
  await setPassword(page, code, "password123");
  await s.expectText(page, "#reset-password-error", "Password is too common; choose one that is harder to guess");
  await screenshot(page, "reset-password-rule");
  await setPassword(page, code.slice(0, 5), NEW_PASSWORD);
  await s.expectText(page, "#reset-code-error", "The code is the 6 digits from the email");
  assert.equal(await page.locator("#reset-password-error").textContent(), "", "the fixed field is cleared");

  await setPassword(page, code, NEW_PASSWORD);
  await page.waitForURL("**/login.html?password-changed");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 200);
});

test("\"Send a new code\" asks again, and only the newest code works", T, async () => {
  const email = s.newEmail("resetresend");
  const page = await onCodeStep(email);
  const first = await suite.api.nextResetCode(email);
  await page.getByRole("button", { name: "Send a new code" }).click();
  await s.expectText(page, "#reset-status", "A new code is on its way. Only the newest code works.");
  const second = await suite.api.nextResetCode(email, 1);
  assert.equal(suite.api.resetCodes(email).length, 2);
  assert.ok(await page.getByLabel("6-digit code").evaluate((el) => el === document.activeElement), "code input has focus");

  if (first !== second) {
    await setPassword(page, first, NEW_PASSWORD);
    await s.expectText(page, "#reset-status", "That code is wrong or has expired");
  }
  await page.getByLabel("6-digit code").fill(second);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("New password", { exact: true }).press("Enter");
  await page.waitForURL("**/login.html?password-changed");
});

test("the reset code goes back with the challenge of the newest request's answer", T, async () => {
  const email = s.newEmail("resetchallenge");
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  await page.goto(suite.api.url + "/reset.html");
  const firstAnswer = s.nextAnswer(page, "/request-password-reset");
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  const first = (await firstAnswer).challenge;
  assert.match(first, s.HEX32, "the answer carries a challenge");
  const wrongSent = s.nextBody(page, "/reset-password");
  await setPassword(page, otherCode(await suite.api.nextResetCode(email)), NEW_PASSWORD);
  assert.equal((await wrongSent).challenge, first);
  await s.expectText(page, "#reset-status", "That code is wrong or has expired");

  const secondAnswer = s.nextAnswer(page, "/request-password-reset");
  await page.getByRole("button", { name: "Send a new code" }).click();
  const second = (await secondAnswer).challenge;
  assert.notEqual(second, first);
  const code = await suite.api.nextResetCode(email, 1);
  const sent = s.nextBody(page, "/reset-password");
  await setPassword(page, code, NEW_PASSWORD);
  assert.deepEqual(await sent, { username: email, code, challenge: second, new_password: NEW_PASSWORD });
  await page.waitForURL("**/login.html?password-changed");
});

/** The reset page opened as from a reset email's link with this fragment; its fragment is gone. */
async function fromLink(fragment) {
  const page = await suite.browser.newPage();
  await page.goto(suite.api.url + "/reset.html#" + fragment);
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  assert.ok(await page.getByLabel("6-digit code").isHidden(), "a link needs no code");
  assert.equal(await page.evaluate(() => window.location.hash), "", "the fragment leaves the address bar");
  assert.ok(await page.getByLabel("New password", { exact: true }).evaluate((el) => el === document.activeElement));
  return page;
}

async function setLinkPassword(page, password) {
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Set new password" }).click();
}

test("a link without its token, or with a damaged one, is refused in words and leads to a new code", T, async () => {
  const email = s.newEmail("resetnolink");
  assert.equal((await s.post(suite.api, "/register", { username: email, password: s.PASSWORD })).status, 201);
  const username = "username=" + encodeURIComponent(email);

  const cut = await fromLink(username);
  await s.expectText(cut, "#link-email", email);
  const answered = cut.waitForResponse((r) => r.url().endsWith("/reset-password"));
  await setLinkPassword(cut, NEW_PASSWORD);
  assert.equal((await answered).status(), 400);
  assert.deepEqual(await (await answered).json(), { success: false, message: "Code is required" });
  await s.expectText(cut, "#reset-status", "This link is incomplete. Open it again from the newest reset email, or send yourself a new code.");
  await screenshot(cut, "reset-link-incomplete");
  await cut.getByRole("button", { name: "Use a different email" }).click();
  await cut.getByRole("heading", { name: "Reset your password" }).waitFor();
  assert.equal(await cut.getByLabel("Email", { exact: true }).inputValue(), email, "email carried over");

  const damaged = await fromLink(username + "&token=0ba2c4156");
  await setLinkPassword(damaged, NEW_PASSWORD);
  await s.expectText(damaged, "#reset-status", "This link is incomplete");

  const unknown = await fromLink(username + "&token=" + "0123456789abcdef".repeat(2));
  await setLinkPassword(unknown, NEW_PASSWORD);
  await s.expectText(unknown, "#reset-status", "This link has expired or was already used. Send yourself a new code.");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 401, "the password is unchanged");

  // "Send a new code" from the link's form mails the link's address, and the form takes the code.
  await unknown.getByRole("button", { name: "Send a new code" }).click();
  await s.expectText(unknown, "#reset-status", "A new code is on its way");
  assert.ok(await unknown.getByLabel("6-digit code").isVisible(), "the code field is back");
  await s.expectText(unknown, "#reset-email", email);
  await setPassword(unknown, await suite.api.nextResetCode(email), NEW_PASSWORD);
  await unknown.waitForURL("**/login.html?password-changed");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 200);
});

test("the reset page answers an unknown email as any other, and checks the address", T, async () => {
  const page = await suite.browser.newPage();
  await page.goto(suite.api.url + "/reset.html");
  await page.getByLabel("Email", { exact: true }).fill(s.newEmail("nobody"));
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await page.getByRole("button", { name: "Use a different email" }).click();
  await page.getByLabel("Email", { exact: true }).fill("not-an-email");
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await s.expectText(page, "#request-username-error", "Enter a valid email address");
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL("**/login.html");
});

test("every request these pages made matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, suite.api.url);
  const requests = await s.assertRequestsConform(suite.browser, contract);
  const used = new Set(requests.map((r) => contract.operationOf(r).id));
  for (const id of ["requestPasswordReset", "resetPassword"]) assert.ok(used.has(id), id);
});
