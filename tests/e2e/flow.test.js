// The whole sign-in in the browser, on pages served by otp-login itself, against MariaDB.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { screenshot, PHONE } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser();

const T = { timeout: 60000 };

test("register, sign in with the emailed code, see the account, sign out", T, async () => {
  const email = s.newEmail("flow");
  const page = await suite.browser.newPage();
  await page.goto(suite.api.url + "/");
  await screenshot(page, "index");
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.waitForURL("**/register.html");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(s.PASSWORD);
  await screenshot(page, "register");
  await page.getByLabel("Password", { exact: true }).press("Enter");

  await page.waitForURL("**/login.html?registered");
  await s.expectText(page, "#login-status", "Account created");
  assert.equal(await page.getByLabel("Email", { exact: true }).inputValue(), email, "email carried over");
  await page.getByLabel("Password", { exact: true }).fill(s.PASSWORD);
  await screenshot(page, "login");
  await page.getByLabel("Password", { exact: true }).press("Enter");

  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await s.expectText(page, "#code-email", email);
  const code = await suite.api.nextCode(email);
  const codeInput = page.getByLabel("6-digit code");
  assert.ok(await codeInput.evaluate((el) => el === document.activeElement), "code input has focus");
  await codeInput.pressSequentially(code.slice(0, 3) + " " + code.slice(3));
  assert.equal(await codeInput.inputValue(), code, "only digits are kept");
  await screenshot(page, "verify");
  await codeInput.press("Enter");

  await s.expectSignedIn(page, email);
  const stored = await page.evaluate(() => [localStorage.length, JSON.stringify({ ...sessionStorage })]);
  assert.equal(stored[0], 0, "nothing in localStorage");
  assert.ok(!stored[1].includes(s.PASSWORD), "the password is never stored");
  await screenshot(page, "account");

  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL("**/login.html?signed-out");
  await s.expectText(page, "#login-status", "You have signed out");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("otp-login.token")), null);
  await page.goto(suite.api.url + "/account.html");
  await page.waitForURL("**/login.html", { timeout: 5000 });
});

test("register shows each rule next to its field", T, async () => {
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, "not-an-email", "short");
  await s.expectText(page, "#register-username-error", "Enter a valid email address");
  assert.equal(await page.getByLabel("Email", { exact: true }).getAttribute("aria-invalid"), "true");
  assert.ok(await page.getByLabel("Email", { exact: true }).evaluate((el) => el === document.activeElement), "the field in error has focus");

  await page.getByLabel("Email", { exact: true }).fill(s.newEmail("rules"));
  await page.getByRole("button", { name: "Create account" }).click();
  await s.expectText(page, "#register-password-error", "Password must be at least 8 characters");
  assert.equal(await page.locator("#register-username-error").textContent(), "", "the fixed field is cleared");
  assert.equal(await page.getByLabel("Email", { exact: true }).getAttribute("aria-invalid"), null);
  await screenshot(page, "register-field-error");
});

test("registering an existing email says to sign in, with a link", T, async () => {
  const email = s.newEmail("twice");
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  await s.register(page, suite.api.url, email.toUpperCase());
  await s.expectText(page, "#register-status", "already registered — sign in");
  await screenshot(page, "register-already-registered");
  await page.locator("#register-status").getByRole("link", { name: "Go to sign in" }).click();
  await page.waitForURL("**/login.html");
  assert.equal(await page.getByLabel("Email", { exact: true }).inputValue(), email.toUpperCase(), "email carried over");
});

test("a wrong password is refused in words", T, async () => {
  const email = s.newEmail("wrongpw");
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  await page.getByLabel("Password", { exact: true }).fill("not-the-password");
  await page.getByRole("button", { name: "Send me a code" }).click();
  await s.expectText(page, "#login-status", "Wrong email or password");
  assert.ok(await page.locator("#password-step").isVisible(), "still on the password step");
  await screenshot(page, "login-wrong-password");
});

test("a wrong code is refused; a new code can be sent and works", T, async () => {
  const email = s.newEmail("wrongcode");
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  await s.requestCode(page, suite.api.url, email);
  const first = await suite.api.nextCode(email);

  await s.enterCode(page, "12345");
  await s.expectText(page, "#code-error", "The code is the 6 digits from the email");
  const wrong = String((Number(first) + 1) % 1000000).padStart(6, "0");
  await s.enterCode(page, wrong);
  await s.expectText(page, "#code-status", "That code is wrong or has expired");
  assert.equal(await page.locator("#code-error").textContent(), "");
  await screenshot(page, "verify-wrong-code");

  await page.getByRole("button", { name: "Send a new code" }).click();
  await s.expectText(page, "#code-status", "A new code is on its way");
  assert.equal(await page.getByRole("button", { name: "Send a new code" }).getAttribute("aria-busy"), null);
  const second = await suite.api.nextCode(email, 1);
  await s.enterCode(page, second);
  await s.expectSignedIn(page, email);
});

test("the code goes back to /verify with the challenge of the newest /login answer, kept nowhere", T, async () => {
  const email = s.newEmail("challenge");
  const page = await suite.browser.newPage();
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  const firstAnswer = s.nextAnswer(page, "/login");
  await s.requestCode(page, suite.api.url, email);
  const first = (await firstAnswer).challenge;
  assert.match(first, s.HEX32, "the /login answer carries a challenge");
  const code = await suite.api.nextCode(email);

  const wrongSent = s.nextBody(page, "/verify");
  await s.enterCode(page, String((Number(code) + 1) % 1000000).padStart(6, "0"));
  assert.deepEqual(Object.keys(await wrongSent).sort(), ["challenge", "code", "username"]);
  assert.equal((await wrongSent).challenge, first);
  await s.expectText(page, "#code-status", "That code is wrong or has expired");

  const secondAnswer = s.nextAnswer(page, "/login");
  await page.getByRole("button", { name: "Send a new code" }).click();
  const second = (await secondAnswer).challenge;
  assert.match(second, s.HEX32);
  assert.notEqual(second, first, "each code has a challenge of its own");
  const sent = s.nextBody(page, "/verify");
  await s.enterCode(page, await suite.api.nextCode(email, 1));
  assert.deepEqual(await sent, { username: email, code: await suite.api.nextCode(email, 1), challenge: second });
  await s.expectSignedIn(page, email);
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
  assert.ok(!stored.includes(first) && !stored.includes(second), "the challenge stays in the page's memory");
});

test("on a phone-sized screen every page fits and the code input suits a phone", T, async () => {
  const email = s.newEmail("phone");
  const page = await suite.browser.newPage(PHONE);
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  for (const name of ["index", "register", "login", "reset"]) {
    await page.goto(`${suite.api.url}/${name}.html`);
    assert.ok(await fits(), `${name}.html has no sideways scrolling`);
    await screenshot(page, `phone-${name}`);
  }
  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
  await s.requestCode(page, suite.api.url, email);
  const input = page.getByLabel("6-digit code");
  assert.deepEqual(
    await input.evaluate((el) => [el.inputMode, el.autocomplete, el.pattern, el.maxLength]),
    ["numeric", "one-time-code", "[0-9]{6}", 6],
  );
  assert.ok(await fits(), "the code step fits");
  await screenshot(page, "phone-verify");
  await s.enterCode(page, await suite.api.nextCode(email));
  await s.expectSignedIn(page, email);
  assert.ok(await fits(), "the account page fits");
  await screenshot(page, "phone-account");
});

test("keyboard focus is visible", T, async () => {
  const page = await suite.browser.newPage();
  for (const [name, first] of [["login", "login-username"], ["reset", "request-username"]]) {
    await page.goto(`${suite.api.url}/${name}.html`);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    const outline = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement);
      return [document.activeElement.id, style.outlineStyle, style.outlineWidth];
    });
    assert.equal(outline[0], first, name);
    assert.notEqual(outline[1], "none", name);
    assert.notEqual(outline[2], "0px", name);
  }
});

test("every request the pages made matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, suite.api.url);
  const requests = await s.assertRequestsConform(suite.browser, contract);
  const used = new Set(requests.map((r) => contract.operationOf(r).id));
  assert.deepEqual([...used].sort(), ["getCurrentUser", "listActivity", "listSessions", "login", "logout", "register", "verify"]);
});
