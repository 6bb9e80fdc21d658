// The deployed setup on loopback: pages from one origin (as from S3), the API on another,
// reached through CORS with config.js naming the API's URL.
const assert = require("node:assert/strict");
const { after, before, test } = require("node:test");
const { freePort, startApi } = require("./lib/api-server");
const { launchBrowser, screenshot } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const { startStaticSite } = require("./lib/static-server");
const s = require("./lib/steps");

let api;
let site;
let browser;
before(async () => {
  site = await startStaticSite("");
  // The API allows exactly the site's origin, as CORS_ALLOWED_ORIGINS would in production.
  api = await startApi({ corsAllowedOrigins: site.origin });
  site.apiBaseUrl = api.url;
  browser = await launchBrowser();
}, { timeout: 60000 });
after(async () => {
  await browser?.close();
  await api?.stop();
  await site?.stop();
}, { timeout: 60000 });

const T = { timeout: 60000 };

test("the whole sign-in works from another origin", T, async () => {
  assert.notEqual(new URL(site.origin).origin, new URL(api.url).origin);
  const email = s.newEmail("cors");
  const page = await browser.newPage();
  await s.register(page, site.origin, email);
  await page.waitForURL(site.origin + "/login.html?registered");
  await s.requestCode(page, site.origin, email);
  await s.enterCode(page, await api.nextCode(email));
  await s.expectSignedIn(page, email);
  assert.ok(page.url().startsWith(site.origin), "still on the site's origin");
  await screenshot(page, "cross-origin-account");

  const requests = await browser.recordedRequests();
  assert.ok(requests.length >= 4 && requests.every((r) => r.url.startsWith(api.url + "/")), "every call went to the API");
});

test("reset, change the password and sign out everywhere work from another origin", T, async () => {
  const email = s.newEmail("corsaccount");
  const page = await browser.newPage();
  await s.register(page, site.origin, email);
  await page.waitForURL(site.origin + "/login.html?registered");
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.getByRole("button", { name: "Send me a reset code" }).click();
  await page.getByLabel("6-digit code").fill(await api.nextResetCode(email));
  await page.getByLabel("New password", { exact: true }).fill("reset across origins");
  await page.getByRole("button", { name: "Set new password" }).click();
  await page.waitForURL(site.origin + "/login.html?password-changed");

  await s.requestCode(page, site.origin, email, "reset across origins");
  await s.enterCode(page, await api.nextCode(email));
  await s.expectSignedIn(page, email);
  const saved = await page.evaluate(() => sessionStorage.getItem("otp-login.token"));
  await page.getByLabel("Current password", { exact: true }).fill("reset across origins");
  await page.getByLabel("New password", { exact: true }).fill("changed across origins");
  await page.getByRole("button", { name: "Change password" }).click();
  await s.expectText(page, "#change-status", "Password changed");
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await page.waitForURL(site.origin + "/login.html?signed-out-everywhere");
  assert.equal(await s.meStatus(api, saved), 401, "the server ended the session");
  assert.equal(await s.loginStatus(api, email, "changed across origins"), 200);
});

test("an API URL where nothing listens shows that the server is not reachable", T, async () => {
  site.apiBaseUrl = `http://127.0.0.1:${await freePort()}`;
  try {
    const page = await browser.newPage();
    await s.register(page, site.origin, s.newEmail("nobody"));
    await s.expectText(page, "#register-status", "The server is not reachable");
    await screenshot(page, "register-server-unreachable");
  } finally {
    site.apiBaseUrl = api.url;
  }
});

test("every request to the API matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, api.url);
  const requests = (await browser.recordedRequests()).filter((r) => r.url.startsWith(api.url + "/"));
  assert.deepEqual(requests.flatMap(contract.check), []);
});
