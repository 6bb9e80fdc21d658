// Runs the real otp-login binary for a test: a fresh MariaDB database, a free loopback port, and
// the development mailer's log read back so tests can type the emailed code. Or, for what only
// the whole mail carries (the reset link), the real SES client against the local SES emulator
// (scripts/test's, named in TEST_SES_ENDPOINT, or else one of its own), whose mails are read
// back from it.
const { spawn, spawnSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { parseMail } = require("./mime");
const { BINARY, FRONTEND, REPO } = require("./paths");

// The same variable as the API tests (scripts/test), so both suites use one server.
const MARIADB = new URL(process.env.TEST_MARIADB_URL || "mysql://root@127.0.0.1:3306");
const CODE_LINE = /development mailer: .*\bto=(\S+) code=(\d{6}) purpose=(\w+)/;

function mysql(sql) {
  const result = spawnSync(
    "mysql",
    ["--protocol=tcp", "-h", MARIADB.hostname, "-P", MARIADB.port || "3306", "-u", decodeURIComponent(MARIADB.username), "-e", sql],
    { env: { ...process.env, MYSQL_PWD: decodeURIComponent(MARIADB.password) }, encoding: "utf8", timeout: 15000 },
  );
  if (result.status !== 0) throw new Error(`mysql failed (${sql}): ${result.stderr || result.error}`);
}

function ensureBinary() {
  if (fs.existsSync(BINARY)) return;
  const built = spawnSync("cargo", ["build", "--bin", "otp-login"], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  if (built.status !== 0 || !fs.existsSync(BINARY)) throw new Error(`could not build ${BINARY}`);
}

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The emulator scripts/test installs into .venv/ and starts for the whole run.
const MOTO = path.join(REPO, ".venv", "bin", "moto_server");

/** The SES emulator to send through: scripts/test's, or one started for this server. */
async function sesEmulator() {
  if (process.env.TEST_SES_ENDPOINT) return { endpoint: process.env.TEST_SES_ENDPOINT, stop: async () => {} };
  if (!fs.existsSync(MOTO)) {
    throw new Error(`neither TEST_SES_ENDPOINT nor ${MOTO}: run scripts/test once (it installs moto), or set TEST_SES_ENDPOINT`);
  }
  const port = await freePort();
  const child = spawn(MOTO, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const exit = new Promise((resolve) => child.on("exit", resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => { child.kill("SIGTERM"); await Promise.race([exit, sleep(5000)]); };
  for (const deadline = Date.now() + 30000; Date.now() < deadline; await sleep(200)) {
    if (child.exitCode !== null) break;
    if (await fetch(endpoint + "/moto-api/data.json").then((r) => r.ok, () => false)) return { endpoint, stop };
  }
  await stop();
  throw new Error(`the SES emulator (${MOTO}) did not start on ${endpoint}`);
}

// The emulator refuses unverified senders, as SES does. Its REST routing reads the service
// from the signature scope; the signature itself is not checked.
async function verifiedSender(endpoint) {
  const sender = `noreply-${crypto.randomBytes(4).toString("hex")}@otp-login.test`;
  const response = await fetch(endpoint + "/v2/email/identities", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
    },
    body: JSON.stringify({ EmailIdentity: sender }),
  });
  if (!response.ok) throw new Error(`the SES emulator did not verify ${sender}: HTTP ${response.status}`);
  return sender;
}

// The templates escape "/" too (&#x2f;).
const unescapeHtml = (text) => text.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">")
  .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16))).replace(/&amp;/g, "&");

/**
 * Starts the API; `stop()` ends it and drops its database. With `ses`, it sends through the SES
 * emulator instead of the development mailer: `mails()` and `resetLink()` read what was
 * delivered, and `codes()` finds none. With `trustForwardedFor`, it takes the client address
 * from X-Forwarded-For, as behind a proxy, so a test can play a stranger at an address of
 * their own.
 */
async function startApi({ corsAllowedOrigins, ses = false, trustForwardedFor = false } = {}) {
  const emulator = ses ? await sesEmulator() : null;
  try {
    return await launch(corsAllowedOrigins, emulator, trustForwardedFor);
  } catch (error) {
    await emulator?.stop(); // already, if the server itself failed; a second stop does nothing
    throw error;
  }
}

async function launch(corsAllowedOrigins, emulator, trustForwardedFor) {
  ensureBinary();
  const database = "otp_e2e_" + crypto.randomBytes(6).toString("hex");
  mysql(`CREATE DATABASE \`${database}\``);
  const dbUrl = new URL(MARIADB.href);
  dbUrl.pathname = "/" + database;
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    BIND: "127.0.0.1",
    PORT: String(port),
    DATABASE_URL: dbUrl.href,
    FRONTEND_DIR: FRONTEND,
    JWT_SECRET: crypto.randomBytes(32).toString("hex"),
    OTP_SECRET: crypto.randomBytes(32).toString("hex"),
    MAILER: "dev", // writes each code to the log, where the tests read it
    // The pages' answers to a 429 are tested with faked responses; real limits would make
    // these flows (several sign-ins from one address within a minute) depend on timing.
    RATE_LIMIT_PER_ADDRESS: "off",
    RATE_LIMIT_CODE_SENDS: "off",
    RATE_LIMIT_MAILBOX_SENDS: "off", // the same for a sub-address's mailbox (name+tag@)
    NO_COLOR: "1",
    RUST_LOG: "info",
  };
  if (corsAllowedOrigins) env.CORS_ALLOWED_ORIGINS = corsAllowedOrigins;
  if (trustForwardedFor) env.TRUST_FORWARDED_FOR = "true";
  if (emulator) {
    Object.assign(env, {
      MAILER: "ses",
      SENDER_EMAIL: await verifiedSender(emulator.endpoint),
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_ENDPOINT_URL_SESV2: emulator.endpoint,
    });
  }

  const child = spawn(BINARY, [], { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  let exited = false;
  const onData = (chunk) => { log += chunk; };
  child.stdout.setEncoding("utf8").on("data", onData);
  child.stderr.setEncoding("utf8").on("data", onData);
  const exit = new Promise((resolve) => child.on("exit", () => { exited = true; resolve(); }));

  const url = `http://127.0.0.1:${port}`;
  const api = {
    url,
    port,
    get log() { return log; },
    /** Every code of `purpose` (SignIn, PasswordReset or EmailChange) "sent" to `email`, oldest first. */
    codes(email, purpose = "SignIn") {
      return log.split("\n").map((line) => CODE_LINE.exec(line))
        .filter((m) => m && m[1] === email.trim().toLowerCase() && m[3] === purpose).map((m) => m[2]);
    },
    /** Every password-reset code "sent" to `email`, oldest first. */
    resetCodes: (email) => api.codes(email, "PasswordReset"),
    /** Waits for code number `count + 1` of `purpose` (sign-in unless said) to `email` and returns it. */
    async nextCode(email, count = 0, purpose = "SignIn") {
      for (const deadline = Date.now() + 10000; Date.now() < deadline; await sleep(50)) {
        const codes = api.codes(email, purpose);
        if (codes.length > count) return codes[codes.length - 1];
      }
      throw new Error(`no ${purpose} code for ${email} in the server log:\n${log}`);
    },
    /** Waits for reset code number `count + 1` to `email` and returns it. */
    nextResetCode: (email, count = 0) => api.nextCode(email, count, "PasswordReset"),
    /** Every change-of-address code ("Confirm your new address") "sent" to `email`, oldest first. */
    emailChangeCodes: (email) => api.codes(email, "EmailChange"),
    /** Waits for change-of-address code number `count + 1` to `email` and returns it. */
    nextEmailChangeCode: (email, count = 0) => api.nextCode(email, count, "EmailChange"),
    /** With `ses`: every mail the emulator delivered to `email`, as `{ subject, body }` (HTML). */
    async mails(email) {
      const data = await (await fetch(emulator.endpoint + "/moto-api/data.json")).json();
      // Sent raw: the whole MIME message, as a mail client would get it.
      return ((data.ses && data.ses.RawMessage) || []).map((m) => parseMail(m.raw_data))
        .filter((mail) => mail.to === email.trim().toLowerCase())
        .map((mail) => ({ subject: mail.subject, body: mail.html }));
    },
    /** With `ses`: the link in the one reset mail delivered to `email`, waiting for it. */
    async resetLink(email) {
      for (const deadline = Date.now() + 10000; Date.now() < deadline; await sleep(100)) {
        const links = (await api.mails(email)).filter((m) => m.subject === "Your password reset code")
          .map((m) => /href="([^"]*reset\.html#[^"]*)"/.exec(m.body)).filter(Boolean).map((m) => unescapeHtml(m[1]));
        if (links.length > 1) throw new Error(`more than one reset mail to ${email}: ${links.join(", ")}`);
        if (links.length === 1) return links[0];
      }
      throw new Error(`no reset mail with a link to ${email} in the SES emulator`);
    },
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        await Promise.race([exit, sleep(5000)]);
        if (!exited) child.kill("SIGKILL");
        await exit;
      }
      mysql(`DROP DATABASE IF EXISTS \`${database}\``);
      await emulator?.stop();
    },
  };

  for (const deadline = Date.now() + 30000; ; await sleep(100)) {
    if (exited) {
      await api.stop();
      throw new Error(`otp-login exited during start-up:\n${log}`);
    }
    const health = await fetch(url + "/health").catch(() => null);
    if (health && health.status === 200) return api;
    if (Date.now() > deadline) {
      await api.stop();
      throw new Error(`otp-login did not become healthy on ${url}:\n${log}`);
    }
  }
}

module.exports = { freePort, startApi };
