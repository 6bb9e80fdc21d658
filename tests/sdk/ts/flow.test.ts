// The whole sign-in flow and its error answers, through a client typed from openapi.yaml
// (openapi-typescript) and called with openapi-fetch.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import createClient from "openapi-fetch";

import type { components, paths } from "../generated/ts/schema.ts";
import { baseUrl, codeAfter, codesFor, uniqueEmail } from "./support.ts";

const api = createClient<paths>({ baseUrl });
const password = "correct-horse-42";
const challengeShape = /^[0-9a-f]{32}$/;

async function register(username: string) {
  const { data, response } = await api.POST("/register", { body: { username, password } });
  assert.equal(response.status, 201);
  return data;
}

describe("the TypeScript SDK", () => {
  it("registers, logs in, verifies the emailed code and reads /me", async () => {
    const email = uniqueEmail("ts");
    const created = await register(email);
    assert.deepEqual(created, { success: true, message: "User created successfully" });

    const sent = await api.POST("/login", { body: { username: email, password } });
    assert.equal(sent.response.status, 200);
    assert.equal(sent.data?.message, "OTP sent to email");
    const challenge = sent.data?.challenge ?? "";
    assert.match(challenge, challengeShape);
    const code = await codeAfter(email, 0);

    const verified = await api.POST("/verify", { body: { username: email, code, challenge } });
    assert.equal(verified.response.status, 200, JSON.stringify(verified.error));
    const session = verified.data;
    assert.ok(session, "a 200 answer has a body");
    assert.equal(session.message, "Login successful");
    assert.equal(session.token_type, "Bearer");
    assert.ok(session.expires_in > 0);

    const me = await api.GET("/me", { headers: { Authorization: `Bearer ${session.token}` } });
    assert.equal(me.response.status, 200);
    assert.ok(me.data, "a 200 answer has a body");
    const { user_id, created_at, email_verified_at, last_sign_in_at, last_sign_in_from, ...rest } = me.data;
    // No Accept-Language of ours (fetch sends `*`): English.
    assert.deepEqual(rest, { success: true, message: "Signed in", username: email, language: "en" });
    assert.match(user_id, /^[0-9a-f]{32}$/);
    // The code just spent proved the mailbox and is the last sign-in, from this machine.
    assert.ok(email_verified_at && last_sign_in_at, JSON.stringify(me.data));
    assert.ok(Date.parse(created_at) <= Date.parse(email_verified_at));
    assert.ok(Date.parse(email_verified_at) <= Date.parse(last_sign_in_at));
    assert.equal(last_sign_in_from, "127.0.0.1");
  });

  it("refreshes with rotating refresh tokens, and a replayed spent one ends the session", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const sent = await api.POST("/login", { body: { username: email, password } });
    const code = await codeAfter(email, 0);
    const verified = await api.POST("/verify", { body: { username: email, code, challenge: sent.data?.challenge } });
    const session = verified.data;
    assert.ok(session, "a 200 answer has a body");
    assert.match(session.refresh_token, challengeShape);

    const first = await api.POST("/refresh", { body: { refresh_token: session.refresh_token } });
    assert.equal(first.response.status, 200, JSON.stringify(first.error));
    assert.equal(first.data?.message, "Token refreshed");
    assert.notEqual(first.data?.refresh_token, session.refresh_token);
    const me = await api.GET("/me", { headers: { Authorization: `Bearer ${first.data?.token}` } });
    assert.equal(me.response.status, 200);
    const second = await api.POST("/refresh", { body: { refresh_token: first.data?.refresh_token ?? "" } });
    assert.equal(second.response.status, 200);

    // The first token again, after its child was spent too: the session ends.
    const replayed = await api.POST("/refresh", { body: { refresh_token: session.refresh_token } });
    assert.equal(replayed.response.status, 401);
    assert.deepEqual(replayed.error, { success: false, message: "Invalid or expired session" });
    const after = await api.POST("/refresh", { body: { refresh_token: second.data?.refresh_token ?? "" } });
    assert.equal(after.response.status, 401);
  });

  it("lists the account's sessions, marks this one, and ends another at once", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const signIn = async (seen: number) => {
      const sent = await api.POST("/login", { body: { username: email, password } });
      const code = await codeAfter(email, seen);
      const verified = await api.POST("/verify", { body: { username: email, code, challenge: sent.data?.challenge } });
      assert.ok(verified.data, "a 200 answer has a body");
      return verified.data.token;
    };
    const phone = await signIn(0);
    const laptop = await signIn(1);
    const auth = { headers: { Authorization: `Bearer ${laptop}` } };

    const listed = await api.GET("/sessions", auth);
    assert.equal(listed.response.status, 200, JSON.stringify(listed.error));
    const sessions = listed.data?.sessions ?? [];
    assert.equal(sessions.length, 2);
    const other = sessions.find((s) => !s.current);
    assert.ok(other && sessions.some((s) => s.current && s.client_address === "127.0.0.1"));

    const ended = await api.DELETE("/sessions/{id}", { ...auth, params: { path: { id: other.id } } });
    assert.equal(ended.response.status, 200);
    assert.deepEqual(ended.data, { success: true, message: "Signed out" });
    const again = await api.DELETE("/sessions/{id}", { ...auth, params: { path: { id: other.id } } });
    assert.equal(again.response.status, 404);
    assert.deepEqual(again.error, { success: false, message: "Session not found" });
    const phoneMe = await api.GET("/me", { headers: { Authorization: `Bearer ${phone}` } });
    assert.equal(phoneMe.response.status, 401);
  });

  it("answers 409 to a second registration of the same username", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const again = await api.POST("/register", { body: { username: email.toUpperCase(), password } });
    assert.equal(again.response.status, 409);
    assert.deepEqual(again.error, { success: false, message: "Username already exists" });
  });

  it("answers 401 to a wrong password and sends no code", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const refused = await api.POST("/login", { body: { username: email, password: "not-the-password" } });
    assert.equal(refused.response.status, 401);
    assert.deepEqual(refused.error, { success: false, message: "Invalid username or password" });
    assert.deepEqual(codesFor(email), []);
  });

  it("answers 401 to a wrong code", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    assert.equal((await api.POST("/login", { body: { username: email, password } })).response.status, 200);
    const code = await codeAfter(email, 0);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    const refused = await api.POST("/verify", { body: { username: email, code: wrong } });
    assert.equal(refused.response.status, 401);
    assert.deepEqual(refused.error, { success: false, message: "Invalid or expired OTP" });
  });

  it("answers 401 to a wrong challenge, and the right one still signs in with the code", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const sent = await api.POST("/login", { body: { username: email, password } });
    assert.equal(sent.response.status, 200);
    const challenge = sent.data?.challenge ?? "";
    const code = await codeAfter(email, 0);
    const last = Number.parseInt(challenge.slice(-1), 16);
    const wrong = challenge.slice(0, -1) + ((last + 1) % 16).toString(16);

    const refused = await api.POST("/verify", { body: { username: email, code, challenge: wrong } });
    assert.equal(refused.response.status, 401);
    assert.deepEqual(refused.error, { success: false, message: "Invalid or expired OTP" });
    // A wrong challenge reaches no code, so it spent nothing.
    const verified = await api.POST("/verify", { body: { username: email, code, challenge } });
    assert.equal(verified.response.status, 200, JSON.stringify(verified.error));
    assert.ok(verified.data?.token);
  });

  it("answers 400 to a username that is not an email address", async () => {
    const refused = await api.POST("/register", { body: { username: "not-an-email", password } });
    assert.equal(refused.response.status, 400);
    assert.deepEqual(refused.error, { success: false, message: "Username must be a valid email address" });
  });

  it("answers 401 to /me with a token it did not issue", async () => {
    const refused = await api.GET("/me", { headers: { Authorization: "Bearer not-a-token" } });
    assert.equal(refused.response.status, 401);
    assert.deepEqual(refused.error, { success: false, message: "Invalid or expired session" });
  });
});

describe("the TypeScript SDK, for the rest of an account's life", () => {
  const newPassword = "a brand new passphrase";
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  async function signIn(username: string, pass = password): Promise<string> {
    const seen = codesFor(username).length;
    const sent = await api.POST("/login", { body: { username, password: pass } });
    assert.equal(sent.response.status, 200);
    const code = await codeAfter(username, seen);
    const verified = await api.POST("/verify", { body: { username, code, challenge: sent.data?.challenge } });
    assert.equal(verified.response.status, 200, JSON.stringify(verified.error));
    return verified.data?.token ?? "";
  }

  const meStatus = async (token: string) =>
    (await api.GET("/me", { headers: bearer(token) })).response.status;

  it("resets a forgotten password with the emailed code, ending every session", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const token = await signIn(email);
    const asked = await api.POST("/request-password-reset", { body: { username: email } });
    assert.equal(asked.response.status, 200);
    const challenge = asked.data?.challenge ?? "";
    assert.match(challenge, challengeShape);
    assert.deepEqual(asked.data, { success: true, message: "If the account exists, a reset code was sent", challenge });
    const code = await codeAfter(email, 0, 10_000, "PasswordReset");

    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    const refused = await api.POST("/reset-password", {
      body: { username: email, code: wrong, challenge, new_password: newPassword },
    });
    assert.equal(refused.response.status, 401);
    assert.deepEqual(refused.error, { success: false, message: "Invalid or expired code" });

    const done = await api.POST("/reset-password", {
      body: { username: email, code, challenge, new_password: newPassword },
    });
    assert.equal(done.response.status, 200, JSON.stringify(done.error));
    assert.deepEqual(done.data, { success: true, message: "Password changed" });
    assert.equal(await meStatus(token), 401);
    assert.equal((await api.POST("/login", { body: { username: email, password } })).response.status, 401);
    assert.equal(await meStatus(await signIn(email, newPassword)), 200);
  });

  it("takes a sign-in code only at /verify and a reset code only at /reset-password", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const sent = await api.POST("/login", { body: { username: email, password } });
    assert.equal(sent.response.status, 200);
    const [signInCode, signInChallenge] = [await codeAfter(email, 0), sent.data?.challenge];
    const asked = await api.POST("/request-password-reset", { body: { username: email } });
    assert.equal(asked.response.status, 200);
    const [resetCode, resetChallenge] = [await codeAfter(email, 0, 10_000, "PasswordReset"), asked.data?.challenge];

    // Each code at the other operation, with the challenge that reaches that operation's code.
    const asSignIn = await api.POST("/verify", { body: { username: email, code: resetCode, challenge: signInChallenge } });
    assert.equal(asSignIn.response.status, 401);
    assert.deepEqual(asSignIn.error, { success: false, message: "Invalid or expired OTP" });
    const asReset = await api.POST("/reset-password", {
      body: { username: email, code: signInCode, challenge: resetChallenge, new_password: newPassword },
    });
    assert.equal(asReset.response.status, 401);
    assert.deepEqual(asReset.error, { success: false, message: "Invalid or expired code" });

    // Each still works where it belongs.
    const verified = await api.POST("/verify", { body: { username: email, code: signInCode, challenge: signInChallenge } });
    assert.equal(verified.response.status, 200, JSON.stringify(verified.error));
    const done = await api.POST("/reset-password", {
      body: { username: email, code: resetCode, challenge: resetChallenge, new_password: newPassword },
    });
    assert.equal(done.response.status, 200, JSON.stringify(done.error));
  });

  it("changes the password while signed in, keeping only this session", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const here = await signIn(email);
    const elsewhere = await signIn(email);
    const wrong = await api.POST("/change-password", {
      headers: bearer(here),
      body: { current_password: "not my password", new_password: newPassword },
    });
    assert.equal(wrong.response.status, 401);
    assert.deepEqual(wrong.error, { success: false, message: "Current password is incorrect" });
    const changed = await api.POST("/change-password", {
      headers: bearer(here),
      body: { current_password: password, new_password: newPassword },
    });
    assert.equal(changed.response.status, 200, JSON.stringify(changed.error));
    assert.equal(changed.data?.message, "Password changed");
    assert.equal(await meStatus(here), 200);
    assert.equal(await meStatus(elsewhere), 401);

    const old = await api.POST("/login", { body: { username: email, password } });
    assert.equal(old.response.status, 401);
    assert.deepEqual(old.error, { success: false, message: "Invalid username or password" });
    assert.equal(await meStatus(await signIn(email, newPassword)), 200);
  });

  it("signs out one session, then every session", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const [first, second, third] = [await signIn(email), await signIn(email), await signIn(email)];
    const ended = await api.POST("/logout", { headers: bearer(first) });
    assert.equal(ended.response.status, 200);
    assert.deepEqual(ended.data, { success: true, message: "Signed out" });
    assert.equal(await meStatus(first), 401);
    assert.equal(await meStatus(second), 200);
    const everywhere = await api.POST("/logout", { headers: bearer(second), body: { scope: "all" } });
    assert.equal(everywhere.response.status, 200);
    assert.equal(everywhere.data?.message, "Signed out everywhere");
    assert.equal(await meStatus(second), 401);
    assert.equal(await meStatus(third), 401);
  });

  it("lists a wrong password and the sign-ins newest first, and its cursors walk every event once", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    await signIn(email);
    const token = await signIn(email);
    const wrong = await api.POST("/login", { body: { username: email, password: "not-the-password" } });
    assert.equal(wrong.response.status, 401);
    const sessions = (await api.GET("/sessions", { headers: bearer(token) })).data?.sessions ?? [];
    const current = sessions.find((s) => s.current)?.id;
    const earlier = sessions.find((s) => !s.current)?.id;
    assert.ok(current && earlier, JSON.stringify(sessions));

    const listed = await api.GET("/me/activity", { headers: bearer(token), params: { query: { limit: 100 } } });
    assert.equal(listed.response.status, 200, JSON.stringify(listed.error));
    assert.ok(listed.data, "a 200 answer has a body");
    const { events, ...page } = listed.data;
    assert.deepEqual(page, { success: true, message: "Activity" }, "one page: no next_cursor");
    // Each sign-in names the session it opened; only this token's is the current one.
    assert.deepEqual(
      events.map((e) => [e.event, e.detail, e.session_id, e.current_session]),
      [
        ["wrong_password", undefined, undefined, false],
        ["signed_in", undefined, current, true],
        ["code_sent", "sign_in", undefined, false],
        ["signed_in", undefined, earlier, false],
        ["code_sent", "sign_in", undefined, false],
        ["registered", undefined, undefined, false],
      ],
    );
    assert.ok(events.every((e) => e.client_address === "127.0.0.1"), JSON.stringify(events));
    const times = events.map((e) => Date.parse(e.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));

    // Two at a time, each page's `next_cursor` to the next: every event once, in order.
    const pages: (typeof events)[] = [];
    let cursor: string | undefined;
    do {
      const next = await api.GET("/me/activity", { headers: bearer(token), params: { query: { limit: 2, cursor } } });
      assert.equal(next.response.status, 200, JSON.stringify(next.error));
      pages.push(next.data?.events ?? []);
      cursor = next.data?.next_cursor;
      assert.ok(pages.length <= events.length, "the cursors never reach a last page");
    } while (cursor !== undefined);
    assert.deepEqual(pages.map((p) => p.length), [2, 2, 2]);
    assert.deepEqual(pages.flat(), events);

    for (const [query, message] of [
      [{ limit: 0 }, "Limit must be between 1 and 100"],
      [{ limit: 101 }, "Limit must be between 1 and 100"],
      [{ limit: 2, cursor: "abc" }, "Invalid cursor"],
    ] as const) {
      const refused = await api.GET("/me/activity", { headers: bearer(token), params: { query } });
      assert.equal(refused.response.status, 400, JSON.stringify(query));
      assert.deepEqual(refused.error, { success: false, message });
    }
  });

  it("changes the address with the current password and the code mailed to the new one", async () => {
    const email = uniqueEmail("ts");
    const newAddress = email.replace("@", "-new@");
    await register(email);
    const here = await signIn(email);
    const elsewhere = await signIn(email);

    const wrong = await api.POST("/change-email", {
      headers: bearer(here),
      body: { new_username: newAddress, current_password: "not my password" },
    });
    assert.equal(wrong.response.status, 401);
    assert.deepEqual(wrong.error, { success: false, message: "Current password is incorrect" });
    assert.deepEqual(codesFor(newAddress, "EmailChange"), []);

    const asked = await api.POST("/change-email", {
      headers: bearer(here),
      body: { new_username: newAddress, current_password: password },
    });
    assert.equal(asked.response.status, 200, JSON.stringify(asked.error));
    assert.deepEqual(asked.data, { success: true, message: "Code sent to the new address" });
    const code = await codeAfter(newAddress, 0, 10_000, "EmailChange");
    assert.deepEqual(codesFor(email, "EmailChange"), []);

    // The code is for the session that asked.
    const refused = await api.POST("/confirm-email-change", { headers: bearer(elsewhere), body: { code } });
    assert.equal(refused.response.status, 401);
    assert.deepEqual(refused.error, { success: false, message: "Invalid or expired code" });
    assert.equal((await api.GET("/me", { headers: bearer(here) })).data?.username, email, "nothing changed yet");

    const confirmed = await api.POST("/confirm-email-change", { headers: bearer(here), body: { code } });
    assert.equal(confirmed.response.status, 200, JSON.stringify(confirmed.error));
    assert.deepEqual(confirmed.data, { success: true, message: "Email address changed", username: newAddress });
    assert.equal((await api.GET("/me", { headers: bearer(here) })).data?.username, newAddress);
    assert.equal(await meStatus(elsewhere), 401);

    const old = await api.POST("/login", { body: { username: email, password } });
    assert.equal(old.response.status, 401);
    assert.deepEqual(old.error, { success: false, message: "Invalid username or password" });
    const again = await signIn(newAddress);
    assert.equal((await api.GET("/me", { headers: bearer(again) })).data?.username, newAddress);
  });

  it("writes mail in the language Accept-Language preferred at registration, until another is chosen", async () => {
    const email = uniqueEmail("ts");
    const created = await api.POST("/register", {
      headers: { "Accept-Language": "de" },
      body: { username: email, password },
    });
    assert.equal(created.response.status, 201, JSON.stringify(created.error));
    const token = await signIn(email);
    const language = async () => (await api.GET("/me", { headers: bearer(token) })).data?.language;
    assert.equal(await language(), "de");

    const changed = await api.PUT("/me/language", { headers: bearer(token), body: { language: "es" } });
    assert.equal(changed.response.status, 200, JSON.stringify(changed.error));
    assert.deepEqual(changed.data, { success: true, message: "Language changed" });
    assert.equal(await language(), "es");

    // A language outside the enum gets past the types only by a cast; the server refuses it.
    const body = { language: "it" } as unknown as components["schemas"]["LanguageChoice"];
    const refused = await api.PUT("/me/language", { headers: bearer(token), body });
    assert.equal(refused.response.status, 400);
    assert.deepEqual(refused.error, {
      success: false,
      message: 'Request body must be a JSON object with a field "language": "en", "de", "es" or "fr"',
    });
    assert.equal(await language(), "es");
  });

  it("deletes the account with the current password, after which the address registers again", async () => {
    const email = uniqueEmail("ts");
    await register(email);
    const token = await signIn(email);
    const wrong = await api.POST("/delete-account", {
      headers: bearer(token),
      body: { current_password: "not my password" },
    });
    assert.equal(wrong.response.status, 401);
    assert.deepEqual(wrong.error, { success: false, message: "Current password is incorrect" });
    assert.equal(await meStatus(token), 200);
    const deleted = await api.POST("/delete-account", { headers: bearer(token), body: { current_password: password } });
    assert.equal(deleted.response.status, 200, JSON.stringify(deleted.error));
    assert.deepEqual(deleted.data, { success: true, message: "Account deleted" });
    assert.equal(await meStatus(token), 401);
    await register(email);
  });
});
