// The account's activity in the browser: what happened, when, from where and with what, the
// newest first, and older pages on asking. This server trusts X-Forwarded-For, as behind a
// proxy, so a stranger's tries come from an address of their own.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { screenshot } = require("./lib/browser");
const { loadContract } = require("./lib/contract");
const { OPENAPI } = require("./lib/paths");
const s = require("./lib/steps");
const { apiAndBrowser } = require("./lib/suite");

const suite = apiAndBrowser({ trustForwardedFor: true });

const T = { timeout: 60000 };
const STRANGER = "203.0.113.66";
const items = (page) => page.locator("#activity-list li");
const headlines = (page) => page.locator("#activity-list .activity-what").allTextContents();
const json = (status, body) => ({ status, contentType: "application/json", body: JSON.stringify(body) });

test("the activity lists a stranger's wrong password with its address and program, the newest first", T, async () => {
  const email = s.newEmail("activity");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);
  assert.equal(await s.strangerLoginStatus(suite.api, email, "not the password", STRANGER), 401);

  const answer = s.nextAnswer(page, "/me/activity");
  await page.reload();
  await items(page).first().filter({ hasText: "Wrong password" }).waitFor();
  assert.deepEqual(await headlines(page), ["Wrong password", "Signed in · this session", "Code sent to sign in", "Account created"]);
  const [wrong, signedIn] = (await answer).events;
  const when = (at) => page.evaluate((at) => new Date(at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }), at);
  assert.equal(await items(page).first().locator(".hint").textContent(), `${await when(wrong.at)} · from ${STRANGER} · curl/8.5.0`);
  assert.match(await items(page).nth(1).locator(".hint").textContent(), new RegExp(`^${await when(signedIn.at)} · from 127\\.0\\.0\\.1 · \\S`));
  assert.ok(await page.getByRole("button", { name: "Show older" }).isHidden(), "one page holds it all");
  await screenshot(page, "account-activity");
});

test("Show older follows next_cursor and goes with the last page", T, async () => {
  const email = s.newEmail("older");
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, email);
  // Three events of the sign-in and 22 of the stranger: after a few wrong passwords the
  // back-off holds the rest back, each one an event too.
  for (let i = 0; i < 22; i += 1) await s.strangerLoginStatus(suite.api, email, "guess " + i, STRANGER);

  const first = s.nextAnswer(page, "/me/activity");
  await page.reload();
  const { events, next_cursor: cursor } = await first;
  assert.equal(events.length, 20, "the page asks for the server's 20");
  assert.equal(typeof cursor, "string");
  await items(page).nth(19).waitFor();
  assert.equal(await items(page).count(), 20);
  const older = page.getByRole("button", { name: "Show older" });

  const asked = page.waitForRequest((request) => new URL(request.url()).pathname === "/me/activity");
  await older.click();
  assert.equal(new URL((await asked).url()).searchParams.get("cursor"), cursor);
  await items(page).nth(24).waitFor();
  assert.equal(await items(page).count(), 25);
  assert.ok(await older.isHidden(), "no button after the last page");
  assert.ok(await items(page).nth(20).evaluate((item) => item === document.activeElement), "focus goes to the first older event");
  const all = await headlines(page);
  assert.equal(all.at(-1), "Account created", "the oldest last");
  assert.ok(all.includes("Wrong password") && all.includes("Sign-in held back by a limit"), all.join(", "));
  await screenshot(page, "account-activity-older");
});

test("every kind of event is put into words, an unknown one by its name", T, async () => {
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, s.newEmail("kinds"));
  const at = "2026-12-01T18:22:07Z";
  const kinds = [
    ["registered"], ["code_sent", "sign_in"], ["code_sent", "password_reset"], ["code_sent", "email_change"],
    ["wrong_password"], ["wrong_code", "sign_in"], ["limited", "password"], ["limited", "reset_code_send"],
    ["limited", "email_code_check"], ["signed_in"], ["signed_out", "current"], ["signed_out", "one"],
    ["signed_out", "all"], ["signed_out", "operator"], ["password_reset", "code"], ["password_reset", "link"],
    ["password_changed"], ["locked"], ["refresh_token_reused"], ["email_change_requested", "email_change"],
    ["email_changed"], ["disabled", "operator"], ["enabled", "operator"], ["unlocked", "operator"], ["passkey_added"],
  ];
  const events = kinds.map(([event, detail]) => ({ at, event, ...(detail ? { detail } : {}), current_session: false }));
  await page.route("**/me/activity*", (route) => route.fulfill(json(200, { success: true, message: "Activity", events })), { times: 1 });
  await page.reload();
  await items(page).nth(kinds.length - 1).waitFor();
  assert.deepEqual(await headlines(page), [
    "Account created", "Code sent to sign in", "Code sent to reset the password", "Code sent to confirm a new address",
    "Wrong password", "Wrong sign-in code", "Sign-in held back by a limit", "Password reset held back by a limit",
    "Change of address held back by a limit", "Signed in", "Signed out", "Signed out another session",
    "Signed out everywhere", "Signed out everywhere by the operator", "Password reset with an emailed code",
    "Password reset with the emailed link", "Password changed", "Sign-in by code locked after too many wrong codes",
    "Session ended: its renewal was used twice", "Change of address asked for, code sent to the new address",
    "Email address changed", "Account disabled by the operator", "Account enabled by the operator",
    "Sign-in unlocked by the operator", "passkey_added",
  ]);
  assert.equal(await items(page).nth(21).locator(".hint").textContent(), await page.evaluate((at) =>
    new Date(at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }), at), "the operator's: when only");
});

test("every failure to list the activity is put into words in its status line", T, async () => {
  const page = await suite.browser.newPage();
  await s.signIn(page, suite.api, s.newEmail("activityfail"));
  await page.route("**/me/activity*", (route) => route.fulfill(json(503, { success: false, message: "Service temporarily unavailable" })), { times: 1 });
  await page.reload();
  await s.expectText(page, "#activity-status", "The service is briefly unavailable. Please try again in a moment.");
  await s.expectText(page, "#session-list", "this device");

  // A first page with an older one behind it, whose every answer fails in turn.
  const events = [{ at: "2026-12-01T18:22:07Z", event: "signed_in", current_session: true }];
  const page1 = json(200, { success: true, message: "Activity", events, next_cursor: "7" });
  const failures = [
    [json(400, { success: false, message: "Invalid cursor" }), "The request was not accepted: Invalid cursor."],
    [json(500, { success: false, message: "Internal error" }), "Something went wrong on our side. Please try again."],
    [null, "The server is not reachable. Check your connection and try again in a moment."],
    [json(401, { success: false, message: "Invalid or expired session" }), "Your session has ended. Please sign in again."],
  ];
  const answers = [page1, ...failures.map(([answer]) => answer)];
  await page.route("**/me/activity*", (route) => {
    const answer = answers.shift();
    return answer ? route.fulfill(answer) : route.abort("connectionrefused");
  }, { times: answers.length });
  await page.reload();
  await items(page).first().filter({ hasText: "Signed in · this session" }).waitFor();
  const older = page.getByRole("button", { name: "Show older" });
  for (const [, words] of failures) {
    await older.click();
    await s.expectText(page, "#activity-status", words);
    assert.ok(await older.isVisible(), "the button stays, to try again");
    assert.equal(await items(page).count(), 1, "nothing added");
  }
  await screenshot(page, "account-activity-failed");
  await page.locator("#activity-status").getByRole("link", { name: "Sign in" }).waitFor();
});

test("every request these pages made matches an operation of openapi.yaml", T, async () => {
  const contract = loadContract(OPENAPI, suite.api.url);
  const requests = await s.assertRequestsConform(suite.browser, contract);
  const listed = requests.filter((r) => contract.operationOf(r).id === "listActivity");
  assert.ok(listed.some((r) => new URL(r.url).searchParams.has("cursor")), "an older page was asked for");
  assert.ok(listed.every((r) => [...new URL(r.url).searchParams.keys()].every((key) => key === "cursor")), "only the cursor is sent");
});
