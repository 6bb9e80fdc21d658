// Answers the server seldom gives (or does not give yet) and no server at all: each one is shown
// in words. Rare statuses are played by intercepting the page's request to the real server.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { startApi } = require("./lib/api-server");
const { screenshot } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser();

const T = { timeout: 60000 };

/** A login page whose next POST /login gets `answer` instead of reaching the server. */
async function loginAnswered(answer) {
  const page = await suite.browser.newPage();
  await page.route("**/login", (route) => route.fulfill(answer), { times: 1 });
  await page.goto(suite.api.url + "/login.html");
  await page.getByLabel("Email", { exact: true }).fill("someone@example.com");
  await page.getByLabel("Password", { exact: true }).fill(s.PASSWORD);
  await page.getByRole("button", { name: "Send me a code" }).click();
  return page;
}

const json = (status, body, headers = {}) => ({ status, headers, contentType: "application/json", body: JSON.stringify(body) });

test("429 says how long to wait, from the JSON field, and holds the button for that long", T, async () => {
  const page = await loginAnswered(json(429, { success: false, message: "Too many requests", retry_after: 3 }, { "Retry-After": "60" }));
  await s.expectText(page, "#login-status", "Too many attempts. Please wait 3 seconds before trying again.");
  const button = page.getByRole("button", { name: "Send me a code" });
  assert.ok(await button.isDisabled(), "the button waits out the limit");
  await screenshot(page, "login-rate-limited");
  await page.waitForFunction(() => !document.querySelector("#login-form button").disabled, null, { timeout: 6000 });
});

test("429 with only a Retry-After header is understood too", T, async () => {
  const page = await loginAnswered(json(429, { success: false, message: "Too many requests" }, { "Retry-After": "120" }));
  await s.expectText(page, "#login-status", "Please wait about 2 minutes");
});

for (const [status, words] of [
  [502, "could not send the code email"],
  [503, "briefly unavailable"],
  [500, "Something went wrong on our side"],
]) {
  test(`${status} from the API is explained`, T, async () => {
    const page = await loginAnswered(json(status, { success: false, message: "x" }));
    await s.expectText(page, "#login-status", words);
  });
}

test("a gateway's HTML error page is explained, not shown", T, async () => {
  const page = await loginAnswered({ status: 504, contentType: "text/html", body: "<html>Gateway Timeout</html>" });
  await s.expectText(page, "#login-status", "Something went wrong on our side");
});

/** A reset page on its code step (for an address nobody registered: the answer is the same). */
async function resetCodeStep() {
  const page = await suite.browser.newPage();
  await page.goto(suite.api.url + "/reset.html");
  await page.getByLabel("Email", { exact: true }).fill(s.newEmail("lost"));
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await page.getByLabel("6-digit code").fill("123456");
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  return page;
}

test("the reset page says how long to wait after a 429, at either step", T, async () => {
  const limited = json(429, { success: false, message: "Too many requests", retry_after: 42 }, { "Retry-After": "42" });
  const page = await suite.browser.newPage();
  await page.route("**/request-password-reset", (route) => route.fulfill(limited), { times: 1 });
  await page.goto(suite.api.url + "/reset.html");
  await page.getByLabel("Email", { exact: true }).fill("someone@example.com");
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await s.expectText(page, "#request-status", "Too many attempts. Please wait 42 seconds before trying again.");
  assert.ok(await page.getByRole("button", { name: "Send me a reset code" }).isDisabled(), "the button waits out the limit");
  await screenshot(page, "reset-rate-limited");

  const step = await resetCodeStep();
  await step.route("**/request-password-reset", (route) => route.fulfill(limited), { times: 1 });
  await step.getByRole("button", { name: "Send a new code" }).click();
  await s.expectText(step, "#reset-status", "Too many attempts. Please wait 42 seconds");
});

test("a 429 to a reset code points to the email's link, which no code limit holds back", T, async () => {
  const page = await resetCodeStep();
  const limited = json(429, { success: false, message: "Too many requests", retry_after: 600 }, { "Retry-After": "600" });
  await page.route("**/reset-password", (route) => route.fulfill(limited), { times: 1 });
  await page.getByRole("button", { name: "Set new password" }).click();
  await s.expectText(page, "#reset-status",
    "Too many attempts. Please wait about 10 minutes before trying again. Or open the link in the reset email: it needs no code.");
  assert.ok(await page.locator("#reset-step").isVisible(), "still on the code step");
  await screenshot(page, "reset-code-rate-limited");
});

for (const [status, words] of [
  [500, "Something went wrong on our side"],
  [503, "briefly unavailable"],
]) {
  test(`${status} from /reset-password is explained`, T, async () => {
    const page = await resetCodeStep();
    await page.route("**/reset-password", (route) => route.fulfill(json(status, { success: false, message: "x" })), { times: 1 });
    await page.getByRole("button", { name: "Set new password" }).click();
    await s.expectText(page, "#reset-status", words);
    assert.ok(await page.locator("#reset-step").isVisible(), "still on the code step");
  });
}

test("the reset page says when the server is not reachable", T, async () => {
  const page = await resetCodeStep();
  await page.route("**/reset-password", (route) => route.abort("connectionrefused"), { times: 1 });
  await page.getByRole("button", { name: "Set new password" }).click();
  await s.expectText(page, "#reset-status", "The server is not reachable");
  assert.ok(await page.getByRole("button", { name: "Set new password" }).isEnabled(), "one can try again");
});

test("buttons are disabled while a request is in flight", T, async () => {
  const page = await suite.browser.newPage();
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route("**/login", async (route) => { await held; await route.continue(); });
  let sent = 0;
  page.on("request", (request) => { if (request.url().endsWith("/login")) sent += 1; });
  await page.goto(suite.api.url + "/login.html");
  await page.getByLabel("Email", { exact: true }).fill("someone@example.com");
  await page.getByLabel("Password", { exact: true }).fill("wrong-password-1");
  const button = page.getByRole("button", { name: "Send me a code" });
  await page.getByLabel("Password", { exact: true }).press("Enter");
  await page.waitForFunction(() => document.querySelector("#login-form button").disabled);
  assert.equal(await button.getAttribute("aria-busy"), "");
  await page.getByLabel("Password", { exact: true }).press("Enter"); // ignored: one request at a time
  release();
  await s.expectText(page, "#login-status", "Wrong email or password");
  assert.ok(await button.isEnabled());
  assert.equal(await button.getAttribute("aria-busy"), null);
  assert.equal(sent, 1, "the second Enter sent nothing");
});

test("an expired session on the account page asks to sign in again", T, async () => {
  const page = await suite.browser.newPage();
  await page.goto(suite.api.url + "/login.html");
  await page.evaluate(() => sessionStorage.setItem("otp-login.token", "not-a-real-token"));
  await page.goto(suite.api.url + "/account.html");
  await s.expectText(page, "#account-status", "Your session has ended");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("otp-login.token")), null);
  assert.ok(await page.getByRole("button", { name: "Sign out", exact: true }).isHidden());
  await screenshot(page, "account-session-ended");
  await page.locator("#account-status").getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL("**/login.html");
});

test("every request the pages made matches an operation of openapi.yaml", T, async () => {
  await s.assertRequestsConform(suite.browser, loadContract(OPENAPI, suite.api.url));
});

// Last: it stops a server of its own.
test("with the server down, the page says it is not reachable", T, async () => {
  const doomed = await startApi();
  const page = await suite.browser.newPage();
  try {
    await page.goto(doomed.url + "/login.html");
    await doomed.stop();
    await page.getByLabel("Email", { exact: true }).fill("someone@example.com");
    await page.getByLabel("Password", { exact: true }).fill(s.PASSWORD);
    await page.getByRole("button", { name: "Send me a code" }).click();
    await s.expectText(page, "#login-status", "The server is not reachable");
    assert.ok(await page.getByRole("button", { name: "Send me a code" }).isEnabled(), "one can try again");
    await screenshot(page, "login-server-down");
  } finally {
    await doomed.stop();
  }
});
