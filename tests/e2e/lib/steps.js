// What a person does on the pages, as reusable steps, and waiting for what they would see; and
// the few things a test asks of the API directly, as another device would.
const assert = require("node:assert/strict");
const crypto = require("node:crypto");

const PASSWORD = "correct-horse-battery";

const newEmail = (tag) => `${tag}-${crypto.randomBytes(4).toString("hex")}@example.com`;

/** Waits until `selector` (a live region or a field error) shows `text`. */
async function expectText(page, selector, text) {
  await page.locator(selector).filter({ hasText: text }).waitFor();
}

async function register(page, site, email, password = PASSWORD) {
  await page.goto(site + "/register.html");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
}

/** Signs in with the password and waits for the code step. */
async function requestCode(page, site, email, password = PASSWORD) {
  await page.goto(site + "/login.html");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Send me a code" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
}

async function enterCode(page, code) {
  await page.getByLabel("6-digit code").fill(code);
  await page.getByLabel("6-digit code").press("Enter");
}

async function expectSignedIn(page, email) {
  await page.waitForURL("**/account.html");
  await expectText(page, "#account-username", email);
  assert.ok(await page.evaluate(() => sessionStorage.getItem("otp-login.token")), "token kept in sessionStorage");
}

/** Registers and signs in through the pages; leaves the page on the account and returns the token. */
async function signIn(page, api, email, password = PASSWORD) {
  await register(page, api.url, email, password);
  await page.waitForURL("**/login.html?registered");
  const seen = api.codes(email).length;
  await requestCode(page, api.url, email, password);
  await enterCode(page, await api.nextCode(email, seen));
  await expectSignedIn(page, email);
  return page.evaluate(() => sessionStorage.getItem("otp-login.token"));
}

const post = (api, path, body, token) => fetch(api.url + path, {
  method: "POST",
  headers: { "Content-Type": "application/json", ...(token ? { Authorization: "Bearer " + token } : {}) },
  body: body === undefined ? undefined : JSON.stringify(body),
});

/** A session of `email` opened straight through the API, as on another device; its token. */
async function sessionElsewhere(api, email, password = PASSWORD) {
  const seen = api.codes(email).length;
  assert.equal((await post(api, "/login", { username: email, password })).status, 200);
  const verified = await post(api, "/verify", { username: email, code: await api.nextCode(email, seen) });
  assert.equal(verified.status, 200);
  return (await verified.json()).token;
}

/** The status GET /me answers for `token`, asked outside the pages. */
const meStatus = async (api, token) =>
  (await fetch(api.url + "/me", { headers: { Authorization: "Bearer " + token } })).status;

/** The status POST /login answers for this password, asked outside the pages. */
const loginStatus = async (api, email, password) => (await post(api, "/login", { username: email, password })).status;

/**
 * The status POST /login answers a stranger trying this password from `address` with `userAgent`
 * (the address counts only where the API trusts X-Forwarded-For).
 */
const strangerLoginStatus = async (api, email, password, address, userAgent = "curl/8.5.0") => (await fetch(api.url + "/login", {
  method: "POST",
  headers: { "Content-Type": "application/json", "X-Forwarded-For": address, "User-Agent": userAgent },
  body: JSON.stringify({ username: email, password }),
})).status;

/** The JSON answer of the page's next request to `path` (e.g. "/login"), once it arrives. */
const nextAnswer = (page, path) =>
  page.waitForResponse((response) => new URL(response.url()).pathname === path).then((response) => response.json());

/** The JSON body of the page's next request to `path`, once it is sent. */
const nextBody = (page, path) =>
  page.waitForRequest((request) => new URL(request.url()).pathname === path).then((request) => request.postDataJSON());

const HEX32 = /^[0-9a-f]{32}$/;

/** Every API request recorded so far conforms to openapi.yaml. */
async function assertRequestsConform(browser, contract) {
  const requests = await browser.recordedRequests();
  assert.ok(requests.length > 0, "the pages made API requests");
  assert.deepEqual(requests.flatMap(contract.check), []);
  return requests;
}

module.exports = {
  PASSWORD, newEmail, expectText, register, requestCode, enterCode, expectSignedIn, signIn,
  post, sessionElsewhere, meStatus, loginStatus, strangerLoginStatus, nextAnswer, nextBody, HEX32, assertRequestsConform,
};
