// What a person does on the pages, as reusable steps, and waiting for what they would see.
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

/** Every API request recorded so far conforms to openapi.yaml. */
async function assertRequestsConform(browser, contract) {
  const requests = await browser.recordedRequests();
  assert.ok(requests.length > 0, "the pages made API requests");
  assert.deepEqual(requests.flatMap(contract.check), []);
  return requests;
}

module.exports = { PASSWORD, newEmail, expectText, register, requestCode, enterCode, expectSignedIn, assertRequestsConform };
