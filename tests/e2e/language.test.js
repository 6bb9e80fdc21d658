// The language of the account's mail in the browser: the account page shows the one the account
// has (from the registration's Accept-Language) and saves another, which the API then answers.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { screenshot, DESKTOP } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser();

const T = { timeout: 60000 };
const token = (page) => page.evaluate(() => sessionStorage.getItem("otp-login.token"));
const json = (status, body) => ({ status, contentType: "application/json", body: JSON.stringify(body) });
const LABEL = "Language of your emails";

/** Registers `email` straight through the API, as a browser preferring `acceptLanguage` does. */
async function registerPreferring(email, acceptLanguage) {
  const created = await fetch(suite.api.url + "/register", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept-Language": acceptLanguage },
    body: JSON.stringify({ username: email, password: s.PASSWORD }),
  });
  assert.equal(created.status, 201);
}

/** Signs in through the pages to an account registered already; its token. */
async function signInTo(page, email) {
  const seen = suite.api.codes(email).length;
  await s.requestCode(page, suite.api.url, email);
  await s.enterCode(page, await suite.api.nextCode(email, seen));
  await s.expectSignedIn(page, email);
  return token(page);
}

/** The language GET /me answers for `token`, asked outside the pages. */
const languageOf = async (token) =>
  (await (await fetch(suite.api.url + "/me", { headers: { Authorization: "Bearer " + token } })).json()).language;

/** What the selector shows: its value and the words of the option chosen. */
const shown = (page) => page.getByLabel(LABEL).evaluate((select) => [select.value, select.selectedOptions[0].textContent]);

async function choose(page, language) {
  await page.getByLabel(LABEL).selectOption(language);
  await page.getByRole("button", { name: "Save", exact: true }).click();
}

test("the selector shows the account's language, and saving German makes the API answer it", T, async () => {
  const email = s.newEmail("language");
  await registerPreferring(email, "fr");
  const page = await suite.browser.newPage();
  const saved = await signInTo(page, email);
  assert.deepEqual(await shown(page), ["fr", "Français"]);
  // Each language named in its own words, for whoever reads it.
  const options = await page.getByLabel(LABEL).locator("option")
    .evaluateAll((all) => all.map((option) => [option.value, option.lang, option.textContent]));
  assert.deepEqual(options, [
    ["en", "en", "English"], ["de", "de", "Deutsch"], ["es", "es", "Español"], ["fr", "fr", "Français"],
  ]);

  const sent = s.nextBody(page, "/me/language");
  await choose(page, "de");
  assert.deepEqual(await sent, { language: "de" });
  await s.expectText(page, "#language-status", "Saved. Your emails are written in Deutsch from now on.");
  assert.equal(await languageOf(saved), "de");
  await screenshot(page, "account-language-saved");

  await page.reload();
  await s.expectText(page, "#account-username", email);
  assert.deepEqual(await shown(page), ["de", "Deutsch"], "the page shows what the server kept");
});

test("registering from a browser that prefers German makes a German account", T, async () => {
  const email = s.newEmail("browserde");
  const page = await suite.browser.newPage({ ...DESKTOP, locale: "de-DE" });
  const saved = await s.signIn(page, suite.api, email);
  assert.equal(await languageOf(saved), "de");
  assert.deepEqual(await shown(page), ["de", "Deutsch"]);
});

test("a failure to save the language is put into words, and the language stays", T, async () => {
  const email = s.newEmail("languagebad");
  await registerPreferring(email, "es-ES,es;q=0.9,en;q=0.8");
  const page = await suite.browser.newPage();
  const saved = await signInTo(page, email);
  assert.deepEqual(await shown(page), ["es", "Español"]);

  for (const [answer, words] of [
    [json(503, { success: false, message: "Service temporarily unavailable" }),
      "The service is briefly unavailable. Please try again in a moment."],
    [json(500, { success: false, message: "Internal error" }), "Something went wrong on our side. Please try again."],
    [null, "The server is not reachable. Check your connection and try again in a moment."],
  ]) {
    const fake = (route) => (answer ? route.fulfill(answer) : route.abort("connectionrefused"));
    await page.route("**/me/language", fake, { times: 1 });
    await choose(page, "fr");
    await s.expectText(page, "#language-status", words);
    assert.ok(await page.getByRole("button", { name: "Save", exact: true }).isEnabled(), "one can try again");
    if (answer && answer.status === 503) await screenshot(page, "account-language-unavailable");
  }
  assert.equal(await languageOf(saved), "es", "nothing was saved");
  assert.ok(await token(page), "still signed in");
});

test("a session ended elsewhere is said in words when saving the language", T, async () => {
  const email = s.newEmail("languageended");
  await registerPreferring(email, "en");
  const page = await suite.browser.newPage();
  const saved = await signInTo(page, email);
  assert.equal((await s.post(suite.api, "/logout", undefined, saved)).status, 200, "ended behind the page's back");

  await choose(page, "de");
  await s.expectText(page, "#language-status", "Your session has ended. Please sign in again.");
  assert.equal(await token(page), null, "the dead token is forgotten");
  await page.locator("#language-status").getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL("**/login.html");
  await signInTo(page, email);
  assert.deepEqual(await shown(page), ["en", "English"], "the language is unchanged");
});

test("every request these pages made matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, suite.api.url);
  const requests = await s.assertRequestsConform(suite.browser, contract);
  const used = new Set(requests.map((r) => contract.operationOf(r).id));
  for (const id of ["getCurrentUser", "setLanguage"]) assert.ok(used.has(id), id);
  const answered = requests.filter((r) => r.url.endsWith("/me/language")).map((r) => r.status ?? "none");
  assert.deepEqual(answered.sort(), [200, 401, 500, 503, "none"], "each answer the page was tested with");
});
