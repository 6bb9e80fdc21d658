// The account page in the browser: its sections on a desktop and on a phone, changing the
// password, and signing out on the server (here, and everywhere), with the token judged
// afterwards by the API itself.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { screenshot, PHONE } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser();

const T = { timeout: 60000 };
const NEW_PASSWORD = "a brand new passphrase";
const token = (page) => page.evaluate(() => sessionStorage.getItem("otp-login.token"));

async function changePassword(page, current, password) {
  await page.getByLabel("Current password", { exact: true }).fill(current);
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Change password" }).click();
}

/** Where each section of the account page sits, in the page's order. */
const sections = (page) => page.locator("main > .card:not([hidden])").evaluateAll((cards) => cards.map((card) => {
  const box = card.getBoundingClientRect();
  return { name: card.querySelector("h1, h2").textContent, left: box.left, top: box.top, bottom: box.bottom };
}));
const NAMES = ["Your account", "Where you're signed in", "Recent activity", "Security", "Sign out"];

test("on a desktop the account's sections sit side by side; on a phone, in one column", T, async () => {
  const desktop = await suite.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await s.signIn(desktop, suite.api, s.newEmail("wide"));
  await s.expectText(desktop, "#activity-list", "Signed in · this session");
  const wide = await sections(desktop);
  assert.deepEqual(wide.map((section) => section.name), NAMES);
  const [profile, sessions, activity, security, leaving] = wide;
  assert.equal(sessions.top, profile.top, "profile and sessions share the first row");
  assert.ok(sessions.left > profile.left, "sessions beside the profile");
  assert.equal(activity.left, profile.left, "activity under the profile");
  assert.ok(activity.top >= profile.bottom);
  assert.equal(security.left, sessions.left, "security beside the activity");
  assert.equal(security.top, activity.top);
  assert.equal(leaving.left, sessions.left, "signing out under security");
  assert.ok(leaving.top >= security.bottom);
  await screenshot(desktop, "account-desktop");

  const phone = await suite.browser.newPage({ ...PHONE, viewport: { width: 390, height: 844 } });
  await s.signIn(phone, suite.api, s.newEmail("narrow"));
  await s.expectText(phone, "#activity-list", "Signed in · this session");
  const narrow = await sections(phone);
  assert.deepEqual(narrow.map((section) => section.name), NAMES);
  narrow.forEach((section, i) => {
    assert.equal(section.left, narrow[0].left, `${section.name} in the one column`);
    if (i > 0) assert.ok(section.top >= narrow[i - 1].bottom, `${section.name} below ${narrow[i - 1].name}`);
  });
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "no sideways scrolling");
  // Longer than the window, the page's canvas takes the background colour: no white band below.
  const canvas = await phone.evaluate(() => [document.documentElement.scrollHeight > window.innerHeight,
    getComputedStyle(document.documentElement).backgroundColor]);
  assert.deepEqual(canvas, [true, "rgb(238, 242, 248)"]);
  await screenshot(phone, "account-phone");
});

test("the account lists where it is signed in, and signing out another session ends it at once", T, async () => {
  const email = s.newEmail("sessions");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);
  const elsewhere = await s.sessionElsewhere(suite.api, email);
  await page.reload();
  await s.expectText(page, "#session-list", "this device");
  await s.expectText(page, "#session-list", "From 127.0.0.1");
  const others = page.getByRole("button", { name: /^Sign out the session of/ });
  await others.first().waitFor();
  assert.equal(await others.count(), 1, "only the other session can be signed out from the list");
  assert.equal(await page.locator("#session-list li").count(), 2);
  await screenshot(page, "account-sessions");

  await others.first().click();
  await s.expectText(page, "#sessions-status", "That session is signed out.");
  assert.equal(await page.locator("#session-list li").count(), 1);
  assert.equal(await s.meStatus(suite.api, elsewhere), 401, "the other session ended at once");
  assert.equal(await s.meStatus(suite.api, await token(page)), 200, "this one goes on");
});

test("deleting the account takes a tick and the password, then it is gone and the address registers again", T, async () => {
  const email = s.newEmail("leave");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  const password = page.getByLabel("Your password", { exact: true });
  const remove = page.getByRole("button", { name: "Delete my account" });

  // Without the tick, nothing is sent.
  await password.fill(s.PASSWORD);
  await remove.click();
  await s.expectText(page, "#delete-confirm-error", "Tick this box to confirm");
  assert.equal(await s.meStatus(suite.api, saved), 200, "nothing deleted");

  // A wrong password is said so at its field, and deletes nothing.
  await page.getByLabel("I understand that my account will be deleted for good").check();
  await password.fill("not my password at all");
  await remove.click();
  await s.expectText(page, "#delete-password-error", "That is not your password.");
  assert.equal(await s.meStatus(suite.api, saved), 200, "nothing deleted");
  await screenshot(page, "account-delete-wrong-password");

  await password.fill(s.PASSWORD);
  await remove.click();
  await page.waitForURL("**/login.html?account-deleted");
  await s.expectText(page, "#login-status", "Your account has been deleted. You can register again at any time.");
  assert.equal(await s.meStatus(suite.api, saved), 401, "its token is refused");
  assert.deepEqual(await stored(page), { token: null, refresh: null }, "nothing of the session is kept");

  await s.register(page, suite.api.url, email);
  await page.waitForURL("**/login.html?registered");
});

test("changing the password: the old one is then refused at sign-in, the new one works", T, async () => {
  const email = s.newEmail("change");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  const elsewhere = await s.sessionElsewhere(suite.api, email);

  await changePassword(page, s.PASSWORD, NEW_PASSWORD);
  await s.expectText(page, "#change-status", "Password changed. Your other devices have been signed out.");
  assert.equal(await page.getByLabel("New password", { exact: true }).inputValue(), "", "the form is emptied");
  await screenshot(page, "account-password-changed");
  assert.equal(await s.meStatus(suite.api, saved), 200, "this session goes on");
  assert.equal(await s.meStatus(suite.api, elsewhere), 401, "the other session ended");

  const other = await suite.browser.newPage();
  await other.goto(suite.api.url + "/login.html");
  await other.getByLabel("Email", { exact: true }).fill(email);
  await other.getByLabel("Password", { exact: true }).fill(s.PASSWORD);
  await other.getByRole("button", { name: "Send me a code" }).click();
  await s.expectText(other, "#login-status", "Wrong email or password");
  const seen = suite.api.codes(email).length;
  await s.requestCode(other, suite.api.url, email, NEW_PASSWORD);
  await s.enterCode(other, await suite.api.nextCode(email, seen));
  await s.expectSignedIn(other, email);
});

test("a wrong current password, or none, and a new one breaking the rules are each shown at their field", T, async () => {
  const email = s.newEmail("changebad");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);

  await changePassword(page, "not my password", NEW_PASSWORD);
  await s.expectText(page, "#change-current-error", "That is not your current password.");
  assert.equal(await page.getByLabel("Current password", { exact: true }).getAttribute("aria-invalid"), "true");
  await screenshot(page, "account-wrong-current-password");
  await changePassword(page, "", NEW_PASSWORD);
  await s.expectText(page, "#change-current-error", "Enter your password.");
  assert.equal(await page.locator("#change-password-error").textContent(), "");

  await changePassword(page, s.PASSWORD, "short");
  await s.expectText(page, "#change-password-error", "Password must be at least 8 characters");
  assert.equal(await page.locator("#change-current-error").textContent(), "", "the fixed field is cleared");
  await changePassword(page, s.PASSWORD, "password123");
  await s.expectText(page, "#change-password-error", "Password is too common; choose one that is harder to guess");

  assert.equal(await s.loginStatus(suite.api, email, s.PASSWORD), 200, "the password is unchanged");
  assert.ok(await token(page), "still signed in");
});

test("signing out ends the session on the server: the saved token is refused", T, async () => {
  const email = s.newEmail("signout");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  const elsewhere = await s.sessionElsewhere(suite.api, email);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL("**/login.html?signed-out");
  await s.expectText(page, "#login-status", "You have signed out.");
  assert.equal(await token(page), null, "the token is forgotten here");
  assert.equal(await s.meStatus(suite.api, saved), 401, "a copy of the token no longer works");
  assert.equal(await s.meStatus(suite.api, elsewhere), 200, "only this session ended");
});

test("signing out everywhere ends every session of the account", T, async () => {
  const email = s.newEmail("everywhere");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  const elsewhere = await s.sessionElsewhere(suite.api, email);
  await screenshot(page, "account-signed-in");
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await page.waitForURL("**/login.html?signed-out-everywhere");
  await s.expectText(page, "#login-status", "You have signed out on every device.");
  assert.equal(await token(page), null);
  assert.equal(await s.meStatus(suite.api, saved), 401, "this session ended");
  assert.equal(await s.meStatus(suite.api, elsewhere), 401, "the other session ended too");
});

test("signing out forgets the token even when the server already refuses it (401)", T, async () => {
  const email = s.newEmail("signout401");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  assert.equal((await s.post(suite.api, "/logout", undefined, saved)).status, 200, "ended behind the page's back");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL("**/login.html?signed-out");
  await s.expectText(page, "#login-status", "You have signed out.");
  assert.equal(await token(page), null);
  const answers = (await suite.browser.recordedRequests()).filter((r) => r.url.endsWith("/logout"));
  assert.equal(answers.at(-1).status, 401, "the page's own request was refused");
});

test("with the server unreachable, signing out still forgets the token and says the rest", T, async () => {
  const email = s.newEmail("signoutdown");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  await page.route("**/logout", (route) => route.abort("connectionrefused"), { times: 1 });
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL("**/login.html?signed-out-here");
  await s.expectText(page, "#login-status", "The server could not be told, so the session ends when it expires.");
  assert.equal(await token(page), null);
  assert.equal(await s.meStatus(suite.api, saved), 200, "which is why the page says so");
});

test("a 429 on changing the password holds the form, never signing out", T, async () => {
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, s.newEmail("changelimit"));
  await page.route("**/change-password", (route) => route.fulfill({
    status: 429, headers: { "Retry-After": "600" }, contentType: "application/json",
    body: JSON.stringify({ success: false, message: "Too many requests", retry_after: 600 }),
  }), { times: 1 });
  await changePassword(page, s.PASSWORD, NEW_PASSWORD);
  await s.expectText(page, "#change-status", "Too many attempts. Please wait about 10 minutes before trying again.");
  assert.ok(await page.getByRole("button", { name: "Change password" }).isDisabled(), "the form waits");
  const signOut = page.getByRole("button", { name: "Sign out", exact: true });
  assert.ok(await signOut.isEnabled(), "signing out does not wait");
  assert.ok(await page.getByRole("button", { name: "Sign out everywhere" }).isEnabled());
  await signOut.click();
  await page.waitForURL("**/login.html?signed-out");
});

test("a session ended elsewhere is said in words when changing the password", T, async () => {
  const email = s.newEmail("ended");
  const page = await suite.browser.newPage();
  const saved = await s.signIn(page, suite.api, email);
  assert.equal((await s.post(suite.api, "/logout", undefined, saved)).status, 200);
  await changePassword(page, s.PASSWORD, NEW_PASSWORD);
  await s.expectText(page, "#change-status", "Your session has ended. Please sign in again.");
  assert.equal(await token(page), null, "the dead token is forgotten");
  assert.equal(await s.loginStatus(suite.api, email, NEW_PASSWORD), 401, "the password is unchanged");
  await page.locator("#change-status").getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL("**/login.html");
});

// The page keeps the access token fresh: one within a minute of its end is renewed with the
// refresh token before the page uses it, and again by the timer while the page stays open.
const stored = (page) =>
  page.evaluate(() => ({
    token: sessionStorage.getItem("otp-login.token"),
    refresh: sessionStorage.getItem("otp-login.refresh"),
  }));
const endingSoon = (page, ms) => page.evaluate((ms) => sessionStorage.setItem("otp-login.expires", String(Date.now() + ms)), ms);

test("a token about to end is renewed silently, on load and while the page stays open", T, async () => {
  const email = s.newEmail("refresh");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);
  const before = await stored(page);
  assert.match(before.refresh, s.HEX32, "the refresh token is kept beside the access token");

  await endingSoon(page, 30000);
  const sent = s.nextBody(page, "/refresh");
  await page.reload();
  assert.deepEqual(await sent, { refresh_token: before.refresh });
  await s.expectSignedIn(page, email);
  const renewed = await stored(page);
  assert.notEqual(renewed.token, before.token);
  assert.notEqual(renewed.refresh, before.refresh);
  assert.equal(await s.meStatus(suite.api, renewed.token), 200);

  // The timer: a page opened with a little over a minute left renews a little before the end.
  await endingSoon(page, 62000);
  const again = s.nextBody(page, "/refresh");
  await page.reload();
  await s.expectText(page, "#account-username", email);
  assert.deepEqual(await again, { refresh_token: renewed.refresh });
  await page.waitForFunction((old) => sessionStorage.getItem("otp-login.refresh") !== old, renewed.refresh);
  await s.expectText(page, "#account-username", email);
});

test("when the refresh token is refused the page goes to sign-in and says why", T, async () => {
  const email = s.newEmail("refreshend");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);
  // A refresh token the server does not know, as after its session ended elsewhere.
  await page.evaluate(() => sessionStorage.setItem("otp-login.refresh", "0123456789abcdef0123456789abcdef"));
  await endingSoon(page, 62000);
  await page.reload();
  await s.expectText(page, "#account-username", email);
  await page.waitForURL("**/login.html?session-ended");
  await s.expectText(page, "#login-status", "Your session has ended. Sign in again to go on.");
  assert.deepEqual(await stored(page), { token: null, refresh: null }, "nothing of the session is kept");
});

test("every request these pages made matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, suite.api.url);
  const requests = await s.assertRequestsConform(suite.browser, contract);
  const used = new Set(requests.map((r) => contract.operationOf(r).id));
  for (const id of ["changePassword", "listActivity", "logout"]) assert.ok(used.has(id), id);
  const scopes = requests.filter((r) => r.url.endsWith("/logout")).map((r) => r.body);
  assert.ok(scopes.includes(null) && scopes.includes('{"scope":"all"}'), "both kinds of sign-out were sent");
});
