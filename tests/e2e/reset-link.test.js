// The link in a real reset email: sent through the SES client to the local SES emulator (the
// development mailer logs only the code), opened in the browser, and good for one new password.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { screenshot } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser({ ses: true });

const T = { timeout: 60000 };
const NEW_PASSWORD = "a brand new passphrase";
// Where the link points: PAGES_URL's default off Lambda, the pages this server serves.
let pagesOrigin;

test("the reset email's link sets a new password without the code, once", T, async () => {
  // A sub-address: the link must carry "+" (and "@", ".") through to the form intact.
  const email = s.newEmail("link").replace("@", "+pages@");
  assert.equal((await s.post(suite.api, "/register", { username: email, password: s.PASSWORD })).status, 201);

  const asking = await suite.browser.newPage();
  await asking.goto(suite.api.url + "/reset.html");
  await asking.getByLabel("Email", { exact: true }).fill(email);
  await asking.getByRole("button", { name: "Send me a reset code" }).click();
  await s.expectText(asking, "#reset-status", "Check your email for the reset code, or open the link in that email.");

  const link = await suite.api.resetLink(email);
  const url = new URL(link);
  pagesOrigin = url.origin;
  assert.equal(url.origin + url.pathname, `http://localhost:${suite.api.port}/reset.html`, link);
  assert.match(url.hash, /^#username=[^&]+&token=[0-9a-f]{32}$/, link);

  // The person opens the mail on another device: a browser of its own, no code, no challenge.
  const page = await suite.browser.newPage();
  const sent = s.nextBody(page, "/reset-password");
  await page.goto(link);
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await s.expectText(page, "#link-email", email);
  assert.ok(await page.getByLabel("6-digit code").isHidden(), "no code field");
  assert.equal(await page.evaluate(() => window.location.href), url.origin + url.pathname, "the fragment is gone");
  await screenshot(page, "reset-link");

  await page.getByLabel("New password", { exact: true }).fill("short");
  await page.getByRole("button", { name: "Set new password" }).click();
  await s.expectText(page, "#reset-password-error", "Password must be at least 8 characters");
  const token = url.hash.split("token=")[1];
  assert.deepEqual(await sent, { username: email, token, new_password: "short" });

  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("New password", { exact: true }).press("Enter");
  await page.waitForURL("**/login.html?password-changed");
  await s.expectText(page, "#login-status", "Password changed. Sign in with your new password.");
  assert.equal(await page.getByLabel("Email", { exact: true }).inputValue(), email, "email carried over");
  assert.equal(await s.loginStatus(suite.api, email, s.PASSWORD), 401, "the old password is refused");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 200);

  const again = await suite.browser.newPage();
  await again.goto(link);
  await again.getByLabel("New password", { exact: true }).fill("yet another passphrase");
  await again.getByRole("button", { name: "Set new password" }).click();
  await s.expectText(again, "#reset-status", "This link has expired or was already used");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 200, "a used link changes nothing");
});

test("every request these pages made matches an operation of openapi.yaml", T, async () => {
  assert.ok(pagesOrigin, "the link test ran");
  const requests = await suite.browser.recordedRequests();
  // The asking page ran on the server's address, the link's pages on PAGES_URL's host.
  for (const origin of [suite.api.url, pagesOrigin]) {
    const contract = loadContract(OPENAPI, origin);
    const here = requests.filter((r) => new URL(r.url).origin === origin);
    assert.ok(here.length > 0, origin);
    assert.deepEqual(here.flatMap(contract.check), []);
  }
});
