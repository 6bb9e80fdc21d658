// Changing the account's address in the browser: the current password asks for it, the code
// mailed to the new address confirms it, and the API then knows the account by it alone.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { screenshot } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser();

const T = { timeout: 60000 };
const token = (page) => page.evaluate(() => sessionStorage.getItem("otp-login.token"));
const json = (status, body, headers = {}) => ({ status, headers, contentType: "application/json", body: JSON.stringify(body) });

async function askForAddress(page, address, password) {
  await page.getByLabel("New email address", { exact: true }).fill(address);
  await page.getByLabel("Your current password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Send a code to the new address" }).click();
}

async function confirmAddress(page, code) {
  await page.getByLabel("6-digit code").fill(code);
  await page.getByRole("button", { name: "Confirm new address" }).click();
}

test("a new address takes the password and the code mailed there; then it signs in and other sessions end", T, async () => {
  const email = s.newEmail("moving");
  const address = s.newEmail("moved");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  const elsewhere = await s.sessionElsewhere(suite.api, email);

  await askForAddress(page, address, "not my password");
  await s.expectText(page, "#email-current-error", "That is not your current password.");
  assert.equal(await page.getByLabel("Your current password", { exact: true }).getAttribute("aria-invalid"), "true");
  assert.deepEqual(suite.api.emailChangeCodes(address), [], "no code without the password");
  await screenshot(page, "account-address-wrong-password");

  await askForAddress(page, address, s.PASSWORD);
  await s.expectText(page, "#email-status", "We sent a 6-digit code to the new address.");
  await s.expectText(page, "#email-code-to", address);
  const input = page.getByLabel("6-digit code");
  assert.ok(await input.evaluate((el) => el === document.activeElement), "the code input has focus");
  await s.expectText(page, "#activity-list", "Change of address asked for, code sent to the new address · this session");
  await screenshot(page, "account-address-code");
  const code = await suite.api.nextEmailChangeCode(address);
  assert.deepEqual(suite.api.emailChangeCodes(email), [], "the code went to the new address only");

  await confirmAddress(page, code);
  await s.expectText(page, "#email-status", `Email address changed. Sign in with ${address} from now on.`);
  await s.expectText(page, "#account-username", address);
  assert.ok(await page.getByLabel("New email address", { exact: true }).isVisible(), "the form is back");
  assert.equal(await page.getByLabel("New email address", { exact: true }).inputValue(), "", "and empty");
  await s.expectText(page, "#activity-list", "Email address changed · this session");
  await screenshot(page, "account-address-changed");

  assert.equal(await s.meStatus(suite.api, elsewhere), 401, "the other session ended");
  assert.equal(await s.meStatus(suite.api, saved), 200, "this one goes on");
  assert.equal(await s.loginStatus(suite.api, address, s.PASSWORD), 200, "the new address signs in");
  assert.equal(await s.loginStatus(suite.api, email, s.PASSWORD), 401, "the old one no longer does");
  await page.reload();
  await s.expectText(page, "#account-username", address);
});

test("each refusal of a new address is put into words, at its field where it has one", T, async () => {
  const email = s.newEmail("refused");
  const taken = s.newEmail("taken");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);
  assert.equal((await s.post(suite.api, "/register", { username: taken, password: s.PASSWORD })).status, 201);

  for (const [address, password, field, words] of [
    [email, s.PASSWORD, "#email-new-error", "That is already your address."],
    ["not-an-address", s.PASSWORD, "#email-new-error", "Enter a valid email address, like name@example.com."],
    ["", s.PASSWORD, "#email-new-error", "Enter the new email address."],
    [taken, s.PASSWORD, "#email-new-error", "Another account already has this address."],
    [s.newEmail("nopassword"), "", "#email-current-error", "Enter your password."],
  ]) {
    await askForAddress(page, address, password);
    await s.expectText(page, field, words);
  }
  await screenshot(page, "account-address-taken");

  for (const [status, words] of [
    [502, "We could not send the code email just now. Please try again in a few minutes."],
    [503, "The service is briefly unavailable. Please try again in a moment."],
  ]) {
    await page.route("**/change-email", (route) => route.fulfill(json(status, { success: false, message: "x" })), { times: 1 });
    await askForAddress(page, s.newEmail("faked"), s.PASSWORD);
    await s.expectText(page, "#email-status", words);
    assert.equal(await page.locator("#email-new-error").textContent(), "", "the fixed field is cleared");
  }

  await page.route("**/change-email", (route) => route.fulfill(json(429,
    { success: false, message: "Too many attempts; try again in 3 seconds", retry_after: 3 }, { "Retry-After": "3" })), { times: 1 });
  await askForAddress(page, s.newEmail("limited"), s.PASSWORD);
  await s.expectText(page, "#email-status", "Too many attempts. Please wait 3 seconds before trying again.");
  const ask = page.getByRole("button", { name: "Send a code to the new address" });
  assert.ok(await ask.isDisabled(), "the form waits out the limit");
  assert.ok(await page.getByRole("button", { name: "Sign out", exact: true }).isEnabled(), "signing out does not wait");
  await page.waitForFunction(() => !document.querySelector("#email-form button").disabled, null, { timeout: 6000 });
  assert.equal(await s.loginStatus(suite.api, email, s.PASSWORD), 200, "the address is unchanged");
});

test("a wrong code is refused in words; a new code can be sent, and only it works", T, async () => {
  const email = s.newEmail("newcode");
  const address = s.newEmail("newcodeto");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);
  await askForAddress(page, address, s.PASSWORD);
  const first = await suite.api.nextEmailChangeCode(address);

  await confirmAddress(page, "12345");
  await s.expectText(page, "#email-code-error", "The code is the 6 digits from the email.");
  await confirmAddress(page, String((Number(first) + 1) % 1000000).padStart(6, "0"));
  await s.expectText(page, "#email-status", "That code is wrong or has expired. Check the newest email, or send a new code.");
  assert.equal(await page.locator("#email-code-error").textContent(), "");

  await page.getByRole("button", { name: "Send a new code" }).click();
  await s.expectText(page, "#email-status", "A new code is on its way. Only the newest code works.");
  const second = await suite.api.nextEmailChangeCode(address, 1);
  if (second !== first) {
    await confirmAddress(page, first);
    await s.expectText(page, "#email-status", "That code is wrong or has expired.");
  }
  await confirmAddress(page, second);
  await s.expectText(page, "#account-username", address);

  // Back to the address step from the code step, for another address.
  await askForAddress(page, s.newEmail("again"), s.PASSWORD);
  await page.getByRole("button", { name: "Use a different address" }).click();
  assert.ok(await page.getByLabel("New email address", { exact: true }).evaluate((el) => el === document.activeElement));
  assert.equal(await page.locator("#email-status").textContent(), "");
});

test("a session ended elsewhere is said in words when confirming the address", T, async () => {
  const email = s.newEmail("moveended");
  const address = s.newEmail("moveendedto");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  await askForAddress(page, address, s.PASSWORD);
  const code = await suite.api.nextEmailChangeCode(address);
  assert.equal((await s.post(suite.api, "/logout", undefined, saved)).status, 200, "ended behind the page's back");

  await confirmAddress(page, code);
  await s.expectText(page, "#email-status", "Your session has ended. Please sign in again.");
  assert.equal(await token(page), null, "the dead token is forgotten");
  assert.equal(await s.loginStatus(suite.api, address, s.PASSWORD), 401, "the address is unchanged");
  await page.locator("#email-status").getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL("**/login.html");
});

test("every request these pages made matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, suite.api.url);
  const requests = await s.assertRequestsConform(suite.browser, contract);
  const used = new Set(requests.map((r) => contract.operationOf(r).id));
  for (const id of ["changeEmail", "confirmEmailChange", "listActivity"]) assert.ok(used.has(id), id);
});
