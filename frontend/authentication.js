// The sign-in pages' behaviour: calls the operations of openapi.yaml and puts every answer into
// words next to the field or in the page's message area.
(function () {
  "use strict";

  const config = window.OTP_LOGIN_CONFIG || {};
  const API_BASE = String(config.apiBaseUrl || "").replace(/\/+$/, "");
  // sessionStorage, not localStorage: a session ends with its tab, and nothing outlives it.
  const TOKEN_KEY = "otp-login.token";
  const USERNAME_KEY = "otp-login.username";
  const EXPIRES_KEY = "otp-login.expires";
  const REFRESH_KEY = "otp-login.refresh";
  // An access token this close to its end is renewed before it is used.
  const REFRESH_AHEAD_MS = 60000;
  const TIMEOUT_MS = 15000;

  // ---- The API: exactly the operations in openapi.yaml -------------------------------------

  const api = {
    register: (username, password) => call("POST", "/register", { username, password }),
    login: (username, password) => call("POST", "/login", { username, password }),
    verify: (username, code, challenge) => call("POST", "/verify", { username, code, ...withChallenge(challenge) }),
    getCurrentUser: (token) => call("GET", "/me", undefined, token),
    setLanguage: (token, language) => call("PUT", "/me/language", { language }, token),
    listSessions: (token) => call("GET", "/sessions", undefined, token),
    endSession: (token, id) => call("DELETE", "/sessions/" + encodeURIComponent(id), undefined, token),
    deleteAccount: (token, currentPassword) =>
      call("POST", "/delete-account", { current_password: currentPassword }, token),
    refresh: (refreshToken) => call("POST", "/refresh", { refresh_token: refreshToken }),
    logout: (token, scope) => call("POST", "/logout", scope ? { scope } : undefined, token),
    requestPasswordReset: (username) => call("POST", "/request-password-reset", { username }),
    // `proof` is `{ code, challenge }` from the reset request, or `{ token }` from the email's link.
    resetPassword: (username, proof, newPassword) => call("POST", "/reset-password", {
      username,
      ...("token" in proof ? { token: proof.token } : { code: proof.code, ...withChallenge(proof.challenge) }),
      new_password: newPassword,
    }),
    changePassword: (token, currentPassword, newPassword) =>
      call("POST", "/change-password", { current_password: currentPassword, new_password: newPassword }, token),
    // `cursor` is the `next_cursor` of the page before; none asks for the newest events.
    listActivity: (token, cursor) =>
      call("GET", "/me/activity" + (cursor ? "?cursor=" + encodeURIComponent(cursor) : ""), undefined, token),
    changeEmail: (token, newUsername, currentPassword) =>
      call("POST", "/change-email", { new_username: newUsername, current_password: currentPassword }, token),
    confirmEmailChange: (token, code) => call("POST", "/confirm-email-change", { code }, token),
  };

  // The challenge a /login or /request-password-reset answer carried goes back with its code,
  // so the code works from this browser whatever address the network gives it. An answer
  // without one (an older server) leaves the code to work from the address that asked.
  const withChallenge = (challenge) => (challenge ? { challenge } : {});
  const challengeOf = (result) => (typeof result.data.challenge === "string" ? result.data.challenge : "");

  /** Never throws: a failure of the network is an answer too (`status: 0`). */
  async function call(method, path, body, token) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(API_BASE + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abort.signal,
        credentials: "omit",
      });
      // Proxies and gateways can answer with HTML; the status still says what happened.
      const data = await response.json().catch(() => ({}));
      return { status: response.status, ok: response.ok, data, retryAfter: retryAfter(response, data) };
    } catch (error) {
      return { status: 0, ok: false, data: {}, timedOut: error.name === "AbortError" };
    } finally {
      clearTimeout(timer);
    }
  }

  // The JSON field first: a cross-origin page cannot read Retry-After unless the API exposes it.
  function retryAfter(response, data) {
    const seconds = Number(data && data.retry_after);
    if (Number.isFinite(seconds) && seconds > 0) return Math.ceil(seconds);
    const header = response.headers.get("Retry-After");
    if (!header) return null;
    if (/^\d+$/.test(header.trim())) return Number(header);
    const date = Date.parse(header);
    return Number.isNaN(date) ? null : Math.max(1, Math.ceil((date - Date.now()) / 1000));
  }

  // ---- Answers in words ----------------------------------------------------------------------

  // The API's own 400 messages are clear; these few read better with the page's labels.
  const FIELD_WORDING = {
    "Username is required": "Enter your email address.",
    "Username must be a valid email address": "Enter a valid email address, like name@example.com.",
    "Password is required": "Enter your password.",
    "Code must be 6 digits": "The code is the 6 digits from the email.",
  };

  /** What to tell the person: `{ field, text }` for one input, or `{ text, link }` for the page. */
  function describeFailure(result, operation) {
    const message = typeof result.data.message === "string" ? result.data.message : "";
    if (result.status === 0) {
      return {
        text: result.timedOut
          ? "The server took too long to answer. Check your connection and try again."
          : "The server is not reachable. Check your connection and try again in a moment.",
      };
    }
    if (operation === "resetPasswordByLink") {
      // The page has no field for the address or the token: whatever else a 400 is about, the
      // link that brought them was cut short or changed on its way. ("Send a new code" is
      // right below the form.)
      if (result.status === 400 && !/^Password\b/.test(message)) {
        return { text: "This link is incomplete. Open it again from the newest reset email, or send yourself a new code." };
      }
      if (result.status === 401) return { text: "This link has expired or was already used. Send yourself a new code." };
    }
    // The address these speak of is the new one, never the account's own.
    if (operation === "changeEmail") {
      if (message === "Username is required") return { field: "username", text: "Enter the new email address." };
      if (message === "New address is the current address") return { field: "username", text: "That is already your address." };
      if (result.status === 409) return { field: "username", text: "Another account already has this address." };
    }
    if (operation === "confirmEmailChange" && result.status === 409) {
      return { text: "Another account took this address after the code was sent. Choose a different one." };
    }
    if (result.status === 400) {
      const field = /^(Username|Password|Code)\b/.exec(message);
      if (field) return { field: field[1].toLowerCase(), text: FIELD_WORDING[message] || message };
      return { text: "The request was not accepted: " + (message || "invalid input") + "." };
    }
    if (result.status === 401) {
      if (operation === "login") return { text: "Wrong email or password. Check both and try again." };
      if (operation === "verify" || operation === "resetPassword" ||
          (operation === "confirmEmailChange" && message === "Invalid or expired code")) {
        return { text: "That code is wrong or has expired. Check the newest email, or send a new code." };
      }
      if ((operation === "changePassword" || operation === "changeEmail") && message === "Current password is incorrect") {
        return { field: "current", text: "That is not your current password." };
      }
      return { text: "Your session has ended. Please sign in again.", link: { href: "login.html", text: "Sign in" } };
    }
    if (result.status === 409) {
      return {
        text: "This email is already registered — sign in instead.",
        link: { href: "login.html", text: "Go to sign in" },
      };
    }
    if (result.status === 429) {
      // The link's secret is never limited, so it is the way past a limit on reset codes.
      const link = operation === "resetPassword" ? " Or open the link in the reset email: it needs no code." : "";
      return { text: "Too many attempts. " + waitWords(result.retryAfter) + link };
    }
    if (result.status === 502) {
      return { text: "We could not send the code email just now. Please try again in a few minutes." };
    }
    if (result.status === 503) return { text: "The service is briefly unavailable. Please try again in a moment." };
    if (result.status >= 500) return { text: "Something went wrong on our side. Please try again." };
    return { text: "The server gave an unexpected answer (HTTP " + result.status + "). Please try again later." };
  }

  // The account's activity in plain words: by kind and detail, else by kind; a kind this page
  // does not know yet is shown by its name.
  const EVENT_WORDS = {
    registered: "Account created",
    "code_sent:sign_in": "Code sent to sign in",
    "code_sent:password_reset": "Code sent to reset the password",
    "code_sent:email_change": "Code sent to confirm a new address",
    code_sent: "Code sent",
    wrong_password: "Wrong password",
    "wrong_code:sign_in": "Wrong sign-in code",
    "wrong_code:password_reset": "Wrong password reset code",
    "wrong_code:email_change": "Wrong code for a new address",
    wrong_code: "Wrong code",
    "limited:password": "Sign-in held back by a limit",
    "limited:code_send": "Sign-in held back by a limit",
    "limited:code_check": "Sign-in held back by a limit",
    "limited:reset_code_send": "Password reset held back by a limit",
    "limited:reset_code_check": "Password reset held back by a limit",
    "limited:email_code_send": "Change of address held back by a limit",
    "limited:email_code_check": "Change of address held back by a limit",
    limited: "Held back by a limit",
    signed_in: "Signed in",
    "signed_out:current": "Signed out",
    "signed_out:one": "Signed out another session",
    "signed_out:all": "Signed out everywhere",
    "signed_out:operator": "Signed out everywhere by the operator",
    signed_out: "Signed out",
    "password_reset:code": "Password reset with an emailed code",
    "password_reset:link": "Password reset with the emailed link",
    password_reset: "Password reset",
    password_changed: "Password changed",
    locked: "Sign-in by code locked after too many wrong codes",
    refresh_token_reused: "Session ended: its renewal was used twice",
    email_change_requested: "Change of address asked for, code sent to the new address",
    email_changed: "Email address changed",
    disabled: "Account disabled by the operator",
    enabled: "Account enabled by the operator",
    unlocked: "Sign-in unlocked by the operator",
  };

  function eventWords(entry) {
    for (const key of [entry.event + ":" + entry.detail, entry.event]) {
      if (Object.hasOwn(EVENT_WORDS, key)) return EVENT_WORDS[key];
    }
    return String(entry.event);
  }

  function waitWords(seconds) {
    if (!seconds) return "Please wait a little before trying again.";
    if (seconds < 90) return "Please wait " + seconds + " second" + (seconds === 1 ? "" : "s") + " before trying again.";
    return "Please wait about " + Math.round(seconds / 60) + " minutes before trying again.";
  }

  // ---- Page helpers --------------------------------------------------------------------------

  const $ = (selector) => document.querySelector(selector);

  /** Writes into a live region; `kind` is error, success or info. */
  function showStatus(region, kind, text, link) {
    region.replaceChildren();
    region.className = "notice" + (text ? " notice-" + kind : "");
    if (!text) return;
    region.append(text);
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      region.append(" ", a);
    }
  }

  // A long address wraps before its "@" rather than mid-word on a narrow screen.
  function showEmail(element, email) {
    const at = email.lastIndexOf("@");
    element.replaceChildren(email.slice(0, Math.max(at, 0)), document.createElement("wbr"), email.slice(Math.max(at, 0)));
  }

  function showFieldError(input, text) {
    document.getElementById(input.id + "-error").textContent = text;
    input.setAttribute("aria-invalid", "true");
  }

  function clearErrors(form) {
    form.querySelectorAll("[aria-invalid]").forEach((input) => {
      input.removeAttribute("aria-invalid");
      document.getElementById(input.id + "-error").textContent = "";
    });
  }

  let cooldownUntil = 0;

  // Every button on the page waits while a request is in flight (or while a 429 asks us to).
  // A limit on one operation never holds back signing out, which must always be possible.
  function setBusy(busy, button) {
    const waiting = Date.now() < cooldownUntil;
    document.querySelectorAll("button").forEach((b) => {
      b.disabled = busy || (waiting && !b.hasAttribute("data-not-limited"));
    });
    if (button) button.toggleAttribute("aria-busy", busy);
  }

  function coolDown(seconds) {
    cooldownUntil = Date.now() + seconds * 1000;
    setBusy(false);
    setTimeout(() => setBusy(false), seconds * 1000 + 50);
  }

  /**
   * Shows a failure where it belongs: next to its input, or in the page's message area.
   * `field`, if given, names the input the failure is about when the page knows better.
   */
  function report(result, operation, form, region, field) {
    const failure = describeFailure(result, operation);
    if (failure.field && field) failure.field = field;
    const input = failure.field && form.querySelector('[name="' + failure.field + '"]');
    if (input) {
      showStatus(region, "error", "");
      showFieldError(input, failure.text);
      input.focus();
    } else {
      showStatus(region, "error", failure.text, failure.link);
    }
    if (result.status === 429) coolDown(result.retryAfter || 30);
  }

  /** Runs `action` on submit (Enter included), one request at a time. */
  function onSubmit(form, region, action) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type="submit"]');
      if (button.disabled) return;
      clearErrors(form);
      setBusy(true, button);
      try {
        await action();
      } finally {
        setBusy(false, button);
      }
    });
  }

  // The refresh in flight, so calls made at once renew the token once.
  let renewing = null;

  const session = {
    token: () => sessionStorage.getItem(TOKEN_KEY),
    /** `answer` is a /verify or /refresh answer: the access token and the refresh token. */
    start(answer) {
      sessionStorage.setItem(TOKEN_KEY, answer.token);
      sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + Number(answer.expires_in) * 1000));
      if (typeof answer.refresh_token === "string") sessionStorage.setItem(REFRESH_KEY, answer.refresh_token);
    },
    end() {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(EXPIRES_KEY);
      sessionStorage.removeItem(REFRESH_KEY);
    },
    /**
     * The access token to send, renewed first when it is about to end: null once the session
     * has ended (the refresh token refused). A refresh the network lost keeps the old token.
     */
    async current() {
      const expires = session.expires();
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      if (!session.token() || !refreshToken || !expires || expires - Date.now() > REFRESH_AHEAD_MS) {
        return session.token();
      }
      if (!renewing) {
        renewing = api.refresh(refreshToken).then((result) => {
          renewing = null;
          if (result.status === 200 && result.data.token) session.start(result.data);
          else if (result.status === 401 || result.status === 400) session.end();
          return session.token();
        });
      }
      return renewing;
    },
    /** Renews the token a little before it ends, for as long as the page stays open. */
    keepFresh(onEnded) {
      const expires = session.expires();
      if (!expires || !sessionStorage.getItem(REFRESH_KEY)) return;
      const wait = Math.max(expires - Date.now() - REFRESH_AHEAD_MS + 1000, 1000);
      setTimeout(async () => {
        if (await session.current()) session.keepFresh(onEnded);
        else onEnded();
      }, wait);
    },
    expires: () => Number(sessionStorage.getItem(EXPIRES_KEY)) || null,
    username: () => sessionStorage.getItem(USERNAME_KEY) || "",
    rememberUsername: (username) => sessionStorage.setItem(USERNAME_KEY, username.trim()),
  };

  // ---- Pages ---------------------------------------------------------------------------------

  function indexPage() {
    if (!session.token()) return;
    const primary = $("#primary-action");
    primary.href = "account.html";
    primary.textContent = "Go to your account";
  }

  function registerPage() {
    const form = $("#register-form");
    const region = $("#register-status");
    form.username.value = session.username();
    onSubmit(form, region, async () => {
      showStatus(region, "info", "Creating your account…");
      const result = await api.register(form.username.value, form.password.value);
      if (result.status === 201 || result.status === 409) session.rememberUsername(form.username.value);
      if (result.status === 201) return window.location.assign("login.html?registered");
      report(result, "register", form, region);
    });
  }

  function loginPage() {
    const loginForm = $("#login-form");
    const codeForm = $("#code-form");
    const loginRegion = $("#login-status");
    const codeRegion = $("#code-status");
    // Kept only in this page's memory so "send a new code" can repeat the login without asking
    // again, with the challenge of the newest code; never stored, and gone when the page is
    // left or reloaded.
    let pending = null;

    loginForm.username.value = session.username();
    const params = new URLSearchParams(window.location.search);
    if (params.has("registered")) showStatus(loginRegion, "success", "Account created. Sign in to get your code.");
    if (params.has("signed-out")) showStatus(loginRegion, "info", "You have signed out.");
    if (params.has("signed-out-everywhere")) showStatus(loginRegion, "info", "You have signed out on every device.");
    if (params.has("signed-out-here")) {
      showStatus(loginRegion, "info", "You have signed out on this device. The server could not be told, so the session ends when it expires.");
    }
    if (params.has("password-changed")) showStatus(loginRegion, "success", "Password changed. Sign in with your new password.");
    if (params.has("session-ended")) showStatus(loginRegion, "info", "Your session has ended. Sign in again to go on.");
    if (params.has("account-deleted")) {
      showStatus(loginRegion, "success", "Your account has been deleted. You can register again at any time.");
    }

    const showStep = (step) => {
      $("#password-step").hidden = step !== "password";
      $("#code-step").hidden = step !== "code";
    };

    onSubmit(loginForm, loginRegion, async () => {
      showStatus(loginRegion, "info", "Checking your password…");
      const credentials = { username: loginForm.username.value, password: loginForm.password.value };
      const result = await api.login(credentials.username, credentials.password);
      if (result.status !== 200) return report(result, "login", loginForm, loginRegion);
      pending = { ...credentials, challenge: challengeOf(result) };
      session.rememberUsername(credentials.username);
      loginForm.password.value = "";
      showStatus(loginRegion, "info", "");
      showEmail($("#code-email"), credentials.username.trim());
      showStatus(codeRegion, "success", "We sent a 6-digit code to your email.");
      showStep("code");
      codeForm.code.focus();
    });

    // Whatever is typed or pasted ("123 456", "Code: 123456"), keep the digits.
    codeForm.code.addEventListener("input", () => {
      codeForm.code.value = codeForm.code.value.replace(/\D/g, "").slice(0, 6);
    });

    onSubmit(codeForm, codeRegion, async () => {
      showStatus(codeRegion, "info", "Checking your code…");
      const result = await api.verify(pending.username, codeForm.code.value, pending.challenge);
      if (result.status === 200 && result.data.token) {
        pending = null;
        session.start(result.data);
        window.location.assign("account.html");
        return;
      }
      report(result, "verify", codeForm, codeRegion);
    });

    const resend = $("#resend");
    resend.addEventListener("click", async () => {
      clearErrors(codeForm);
      setBusy(true, resend);
      showStatus(codeRegion, "info", "Sending a new code…");
      const result = await api.login(pending.username, pending.password);
      setBusy(false, resend);
      if (result.status !== 200) return report(result, "login", codeForm, codeRegion);
      pending.challenge = challengeOf(result);
      codeForm.code.value = "";
      showStatus(codeRegion, "success", "A new code is on its way. Only the newest code works.");
      codeForm.code.focus();
    });

    $("#change-account").addEventListener("click", () => {
      pending = null;
      codeForm.code.value = "";
      clearErrors(codeForm);
      showStatus(codeRegion, "info", "");
      showStep("password");
      loginForm.username.focus();
    });
  }

  /**
   * The address and secret of a reset email's link (`reset.html#username=…&token=…`), or null
   * when the page was not opened from one. The fragment is dropped from the address bar at once,
   * so the secret stays neither in the history nor on the screen.
   */
  function takeResetLink() {
    const fragment = fragmentFields(window.location.hash);
    if (!("username" in fragment) && !("token" in fragment)) return null;
    window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
    // A link cut short before its token still opens this form: the server's 400 then says so.
    return { username: (fragment.username || "").trim(), token: fragment.token };
  }

  // Percent-decoding only: unlike URLSearchParams, a "+" (as in name+tag@example.com) stays a "+".
  function fragmentFields(hash) {
    const fields = Object.create(null);
    for (const part of hash.replace(/^#/, "").split("&")) {
      const at = part.indexOf("=");
      const [name, value] = at < 0 ? [part, ""] : [part.slice(0, at), part.slice(at + 1)];
      try {
        fields[decodeURIComponent(name)] = decodeURIComponent(value);
      } catch {
        fields[name] = value; // a broken escape: the server refuses it in words
      }
    }
    return fields;
  }

  function resetPage() {
    const requestForm = $("#request-form");
    const resetForm = $("#reset-form");
    const requestRegion = $("#request-status");
    const resetRegion = $("#reset-status");
    // In this page's memory only: the address asked for, and what proves its mailbox: the
    // challenge its code goes back with, or the token of the email's link.
    let email = "";
    let challenge = "";
    let link = null;

    requestForm.username.value = session.username();
    const showStep = (step) => {
      $("#request-step").hidden = step !== "request";
      $("#reset-step").hidden = step !== "reset";
    };
    // The link's form is the code's without the code.
    const showProof = (byLink) => {
      $("#reset-code-field").hidden = byLink;
      $("#reset-lead-code").hidden = byLink;
      $("#reset-lead-link").hidden = !byLink;
    };

    link = takeResetLink();
    if (link) {
      email = link.username;
      // So that "send a new code", here or after a reload, is for the same address.
      if (email) {
        session.rememberUsername(email);
        requestForm.username.value = email;
      }
      showEmail($("#link-email"), email);
      $("#link-for").hidden = !email;
      showProof(true);
      showStep("reset");
      resetForm.password.focus();
    }

    onSubmit(requestForm, requestRegion, async () => {
      showStatus(requestRegion, "info", "Sending a reset code…");
      const result = await api.requestPasswordReset(requestForm.username.value);
      if (result.status !== 200) return report(result, "requestPasswordReset", requestForm, requestRegion);
      email = requestForm.username.value.trim();
      challenge = challengeOf(result);
      link = null;
      session.rememberUsername(email);
      showStatus(requestRegion, "info", "");
      showEmail($("#reset-email"), email);
      showStatus(resetRegion, "success", "Check your email for the reset code, or open the link in that email.");
      showProof(false);
      showStep("reset");
      resetForm.code.focus();
    });

    resetForm.code.addEventListener("input", () => {
      resetForm.code.value = resetForm.code.value.replace(/\D/g, "").slice(0, 6);
    });

    onSubmit(resetForm, resetRegion, async () => {
      showStatus(resetRegion, "info", "Setting your new password…");
      const proof = link ? { token: link.token } : { code: resetForm.code.value, challenge };
      const result = await api.resetPassword(email, proof, resetForm.password.value);
      if (result.status === 200) {
        session.end();
        return window.location.assign("login.html?password-changed");
      }
      report(result, link ? "resetPasswordByLink" : "resetPassword", resetForm, resetRegion);
    });

    // From the link's form too: a new mail, and this form takes its code from then on.
    const resend = $("#reset-resend");
    resend.addEventListener("click", async () => {
      clearErrors(resetForm);
      setBusy(true, resend);
      showStatus(resetRegion, "info", "Sending a new code…");
      const result = await api.requestPasswordReset(email);
      setBusy(false, resend);
      if (result.status !== 200) return report(result, "requestPasswordReset", resetForm, resetRegion);
      challenge = challengeOf(result);
      link = null;
      showEmail($("#reset-email"), email);
      showProof(false);
      resetForm.code.value = "";
      showStatus(resetRegion, "success", "A new code is on its way. Only the newest code works.");
      resetForm.code.focus();
    });

    $("#reset-change-email").addEventListener("click", () => {
      link = null;
      resetForm.code.value = "";
      resetForm.password.value = "";
      clearErrors(resetForm);
      showStatus(resetRegion, "info", "");
      showStep("request");
      requestForm.username.focus();
    });
  }

  async function accountPage() {
    const region = $("#account-status");
    if (!session.token()) return window.location.replace("login.html");

    // Ends the session on the server, then forgets the token here whatever the answer: a token
    // the server already refuses (401) is as good as ended.
    const signOut = async (button, scope) => {
      setBusy(true, button);
      showStatus(region, "info", "Signing out…");
      const result = await api.logout(await session.current(), scope);
      session.end();
      const ended = result.ok || result.status === 401;
      const where = !ended ? "signed-out-here" : scope === "all" ? "signed-out-everywhere" : "signed-out";
      window.location.assign("login.html?" + where);
    };
    $("#sign-out").addEventListener("click", (event) => signOut(event.currentTarget));
    $("#sign-out-everywhere").addEventListener("click", (event) => signOut(event.currentTarget, "all"));
    $("#retry").addEventListener("click", () => window.location.reload());

    const showUsername = (username) => {
      showEmail($("#account-username"), username);
      $("#account-avatar").textContent = username.charAt(0);
    };

    const changeForm = $("#change-form");
    const changeRegion = $("#change-status");
    onSubmit(changeForm, changeRegion, async () => {
      showStatus(changeRegion, "info", "Changing your password…");
      const token = await session.current();
      const result = await api.changePassword(token, changeForm.current.value, changeForm.password.value);
      if (result.status === 200) {
        changeForm.reset();
        showStatus(changeRegion, "success", "Password changed. Your other devices have been signed out.");
        loadSessions();
        loadActivity();
        return;
      }
      if (result.status === 401 && result.data.message !== "Current password is incorrect") session.end();
      // Both passwords' rules speak of "Password", and the current one is checked first: with
      // it left empty, that is what a 400 is about.
      const field = result.status === 400 && !changeForm.current.value ? "current" : undefined;
      report(result, "changePassword", changeForm, changeRegion, field);
    });

    // A new address: the current password proves the owner asks, then the code mailed there
    // proves the mailbox. The address and password are kept only in this page's memory, so
    // "send a new code" can ask again without asking them again; gone once the address is
    // confirmed, another is chosen, or the page is left.
    const emailForm = $("#email-form");
    const emailCodeForm = $("#email-code-form");
    const emailRegion = $("#email-status");
    let moving = null;
    const showEmailStep = (step) => {
      emailForm.hidden = step !== "address";
      emailCodeForm.hidden = step !== "code";
    };
    // A 401 that is not about the password is about the session: it has ended.
    const askForCode = async (form, wanted) => {
      const result = await api.changeEmail(await session.current(), wanted.username, wanted.password);
      if (result.status === 200) return true;
      if (result.status === 401 && result.data.message !== "Current password is incorrect") session.end();
      // A 400 about "Password" is about the current one, the only password in the form.
      const field = result.status === 400 && /^Password\b/.test(result.data.message) ? "current" : undefined;
      report(result, "changeEmail", form, emailRegion, field);
      return false;
    };
    onSubmit(emailForm, emailRegion, async () => {
      showStatus(emailRegion, "info", "Sending a code to the new address…");
      const wanted = { username: emailForm.username.value, password: emailForm.current.value };
      if (!(await askForCode(emailForm, wanted))) return;
      moving = wanted;
      emailForm.current.value = "";
      showEmail($("#email-code-to"), wanted.username.trim());
      showStatus(emailRegion, "success", "We sent a 6-digit code to the new address.");
      showEmailStep("code");
      emailCodeForm.code.focus();
      loadActivity();
    });

    emailCodeForm.code.addEventListener("input", () => {
      emailCodeForm.code.value = emailCodeForm.code.value.replace(/\D/g, "").slice(0, 6);
    });

    onSubmit(emailCodeForm, emailRegion, async () => {
      showStatus(emailRegion, "info", "Checking your code…");
      const result = await api.confirmEmailChange(await session.current(), emailCodeForm.code.value);
      if (result.status === 200) {
        moving = null;
        emailForm.reset();
        emailCodeForm.reset();
        showEmailStep("address");
        showUsername(result.data.username);
        session.rememberUsername(result.data.username);
        showStatus(emailRegion, "success", "Email address changed. Sign in with " + result.data.username +
          " from now on. Your other devices have been signed out.");
        loadSessions();
        loadActivity();
        return;
      }
      if (result.status === 401 && result.data.message !== "Invalid or expired code") session.end();
      report(result, "confirmEmailChange", emailCodeForm, emailRegion);
    });

    const emailResend = $("#email-resend");
    emailResend.addEventListener("click", async () => {
      clearErrors(emailCodeForm);
      setBusy(true, emailResend);
      showStatus(emailRegion, "info", "Sending a new code…");
      const sent = await askForCode(emailCodeForm, moving);
      setBusy(false, emailResend);
      if (!sent) return;
      emailCodeForm.code.value = "";
      showStatus(emailRegion, "success", "A new code is on its way. Only the newest code works.");
      emailCodeForm.code.focus();
    });

    $("#email-restart").addEventListener("click", () => {
      moving = null;
      emailCodeForm.reset();
      clearErrors(emailCodeForm);
      showStatus(emailRegion, "info", "");
      showEmailStep("address");
      emailForm.username.focus();
    });

    // The language the account's mail is written in: chosen here, kept by the server.
    const languageForm = $("#language-form");
    const languageRegion = $("#language-status");
    onSubmit(languageForm, languageRegion, async () => {
      showStatus(languageRegion, "info", "Saving your choice…");
      const chosen = languageForm.language.selectedOptions[0];
      const result = await api.setLanguage(await session.current(), chosen.value);
      if (result.status === 200) {
        return showStatus(languageRegion, "success", "Saved. Your emails are written in " + chosen.textContent + " from now on.");
      }
      if (result.status === 401) session.end();
      report(result, "setLanguage", languageForm, languageRegion);
    });

    // Leaving: the password and a ticked box, then the account is gone and so is the session.
    const deleteForm = $("#delete-form");
    const deleteRegion = $("#delete-status");
    onSubmit(deleteForm, deleteRegion, async () => {
      if (!deleteForm.confirm.checked) {
        showFieldError(deleteForm.confirm, "Tick this box to confirm that the account should be deleted.");
        return deleteForm.confirm.focus();
      }
      if (!deleteForm.password.value) {
        showFieldError(deleteForm.password, "Enter your password.");
        return deleteForm.password.focus();
      }
      showStatus(deleteRegion, "info", "Deleting your account…");
      const result = await api.deleteAccount(await session.current(), deleteForm.password.value);
      if (result.status === 200) {
        session.end();
        return window.location.assign("login.html?account-deleted");
      }
      if (result.status === 401 && result.data.message === "Current password is incorrect") {
        showStatus(deleteRegion, "error", "");
        showFieldError(deleteForm.password, "That is not your password.");
        return deleteForm.password.focus();
      }
      if (result.status === 401) session.end();
      report(result, "deleteAccount", deleteForm, deleteRegion);
    });

    // Where the account is signed in: each session with its device, address and times, and a
    // button to end any other one.
    const sessionsRegion = $("#sessions-status");
    const sessionList = $("#session-list");
    const dateWords = (text) => new Date(text).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    async function loadSessions() {
      const listed = await api.listSessions(await session.current());
      if (listed.status !== 200) {
        const failure = describeFailure(listed, "listSessions");
        return showStatus(sessionsRegion, "error", failure.text, failure.link);
      }
      sessionList.replaceChildren(...listed.data.sessions.map(sessionItem));
    }
    function sessionItem(entry) {
      const item = document.createElement("li");
      item.className = "session";
      const device = document.createElement("p");
      device.className = "session-device";
      device.textContent = (entry.user_agent || "Unknown browser or app") + (entry.current ? " · this device" : "");
      const details = document.createElement("p");
      details.className = "hint";
      details.textContent = (entry.client_address ? "From " + entry.client_address + " · " : "") +
        "signed in " + dateWords(entry.created_at) + " · last active " + dateWords(entry.last_seen_at);
      item.append(device, details);
      if (!entry.current) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button-secondary";
        button.textContent = "Sign out this session";
        button.setAttribute("aria-label", "Sign out the session of " + device.textContent + ", " + details.textContent);
        button.addEventListener("click", () => endOne(entry, item, button));
        item.append(button);
      }
      return item;
    }
    async function endOne(entry, item, button) {
      button.disabled = true;
      showStatus(sessionsRegion, "info", "Signing that session out…");
      const ended = await api.endSession(await session.current(), entry.id);
      if (ended.status === 200 || ended.status === 404) {
        item.remove();
        const words = ended.status === 200 ? "That session is signed out." : "That session had already ended.";
        showStatus(sessionsRegion, "success", words);
        return loadActivity();
      }
      button.disabled = false;
      const failure = describeFailure(ended, "endSession");
      showStatus(sessionsRegion, "error", failure.text, failure.link);
    }

    // What the account did, the newest first, a page at a time: "Show older" follows the
    // answer's cursor and goes with the last page.
    const activityRegion = $("#activity-status");
    const activityList = $("#activity-list");
    const older = $("#activity-more");
    let olderCursor = null;
    /** The first page, or with `cursor` the next older one: the items it added, or null. */
    async function loadActivity(cursor) {
      const listed = await api.listActivity(await session.current(), cursor);
      if (listed.status !== 200) {
        const failure = describeFailure(listed, "listActivity");
        showStatus(activityRegion, "error", failure.text, failure.link);
        return null;
      }
      showStatus(activityRegion, "info", "");
      const items = listed.data.events.map(activityItem);
      if (cursor) activityList.append(...items);
      else activityList.replaceChildren(...items);
      olderCursor = typeof listed.data.next_cursor === "string" ? listed.data.next_cursor : null;
      older.hidden = !olderCursor;
      return items;
    }
    function activityItem(entry) {
      const item = document.createElement("li");
      item.className = "activity";
      item.tabIndex = -1;
      const what = document.createElement("p");
      what.className = "activity-what";
      what.textContent = eventWords(entry) + (entry.current_session ? " · this session" : "");
      const details = document.createElement("p");
      details.className = "hint";
      details.textContent = [dateWords(entry.at), entry.client_address && "from " + entry.client_address, entry.user_agent]
        .filter(Boolean).join(" · ");
      item.append(what, details);
      return item;
    }
    older.addEventListener("click", async () => {
      setBusy(true, older);
      showStatus(activityRegion, "info", "Loading older activity…");
      const added = await loadActivity(olderCursor);
      setBusy(false, older);
      // The button went with the last page: focus goes to the first event that page brought.
      if (added && added.length && older.hidden) added[0].focus();
    });

    showStatus(region, "info", "Checking your session…");
    const result = await api.getCurrentUser(await session.current());
    if (result.status === 200) {
      showStatus(region, "info", "");
      showUsername(result.data.username);
      showLastSignIn($("#last-sign-in"), result.data);
      languageForm.language.value = result.data.language;
      loadSessions();
      loadActivity();
      session.keepFresh(() => window.location.assign("login.html?session-ended"));
      document.querySelectorAll("[data-signed-in]").forEach((part) => { part.hidden = false; });
      return;
    }
    if (result.status === 401) {
      session.end();
      $("#leaving").hidden = true;
    } else {
      $("#retry").hidden = false;
    }
    const failure = describeFailure(result, "getCurrentUser");
    showStatus(region, "error", failure.text, failure.link);
  }

  /** "Last signed in with a code on 3 December 2026 at 18:54, from 198.51.100.7." when known. */
  function showLastSignIn(element, user) {
    const at = user.last_sign_in_at ? new Date(user.last_sign_in_at) : null;
    if (!at || Number.isNaN(at.getTime())) return;
    const when = at.toLocaleString(undefined, { dateStyle: "long", timeStyle: "short" });
    const from = user.last_sign_in_from ? ", from " + user.last_sign_in_from : "";
    element.textContent = "Last signed in with a code on " + when + from + ".";
    element.hidden = false;
  }

  const pages = { index: indexPage, register: registerPage, login: loginPage, reset: resetPage, account: accountPage };
  const page = pages[document.body.dataset.page];
  if (page) page();
})();
