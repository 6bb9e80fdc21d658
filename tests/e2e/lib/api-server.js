// Runs the real otp-login binary for a test: a fresh MariaDB database, a free loopback port, and
// the development mailer's log read back so tests can type the emailed code.
const { spawn, spawnSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
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

/** Starts the API; `stop()` ends it and drops its database. */
async function startApi({ corsAllowedOrigins } = {}) {
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
    NO_COLOR: "1",
    RUST_LOG: "info",
  };
  if (corsAllowedOrigins) env.CORS_ALLOWED_ORIGINS = corsAllowedOrigins;

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
    /** Every code of `purpose` (SignIn or PasswordReset) "sent" to `email`, oldest first. */
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
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        await Promise.race([exit, sleep(5000)]);
        if (!exited) child.kill("SIGKILL");
        await exit;
      }
      mysql(`DROP DATABASE IF EXISTS \`${database}\``);
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
