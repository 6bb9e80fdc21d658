// scripts/deploy-frontend, without AWS: its dry run, and a stand-in `aws` that records the calls.
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { after, test } = require("node:test");
const { DEPLOY_SCRIPT, FRONTEND } = require("./lib/paths");

const API_URL = "https://abc123.lambda-url.eu-west-1.on.aws";
const LONG = "public, max-age=31536000, immutable";
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-frontend-test-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function deploy(args, env = {}) {
  return spawnSync(DEPLOY_SCRIPT, args, { encoding: "utf8", timeout: 30000, env: { ...process.env, ...env } });
}

const option = (call, name) => call[call.indexOf(name) + 1];

/** Runs the script with the stand-in aws first on PATH; returns its calls and what it uploaded. */
function deployWithStub(args) {
  return deployWithStubEnv(args, {});
}

function deployWithStubEnv(args, env) {
  const dir = fs.mkdtempSync(path.join(scratch, "run-"));
  const stub = path.join(__dirname, "fixtures");
  const result = deploy(args, { PATH: `${stub}:${process.env.PATH}`, AWS_STUB_DIR: dir, ...env });
  const log = path.join(dir, "calls.jsonl");
  const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];
  return { result, calls, dir };
}

test("uploads each kind of file with its content type and cache policy, HTML last", () => {
  const { result, calls } = deployWithStub(["my-site", API_URL + "/"]);
  assert.equal(result.status, 0, result.stderr);
  const byInclude = Object.fromEntries(calls.filter((c) => c[1] === "sync").map((c) => [option(c, "--include"), c]));
  assert.deepEqual(Object.keys(byInclude), ["*.css", "*.js", "*.html"]);
  for (const [include, type, cache] of [
    ["*.css", "text/css; charset=utf-8", LONG],
    ["*.js", "text/javascript; charset=utf-8", LONG],
    ["*.html", "text/html; charset=utf-8", "no-cache"],
  ]) {
    const call = byInclude[include];
    assert.equal(call[3], "s3://my-site", include);
    assert.equal(option(call, "--content-type"), type, include);
    assert.equal(option(call, "--cache-control"), cache, include);
    assert.ok(call.includes("--delete") && option(call, "--exclude") === "*", `${include}: only its own kind`);
  }
  assert.ok(byInclude["*.js"].join(" ").includes("--exclude config.js"), "config.js is not long-lived");
  assert.ok(!fs.existsSync(byInclude["*.css"][2]), "the staging folder is removed afterwards");

  const config = calls.find((c) => c[1] === "cp");
  assert.equal(config[3], "s3://my-site/config.js");
  assert.equal(option(config, "--content-type"), "text/javascript; charset=utf-8");
  assert.equal(option(config, "--cache-control"), "no-cache");
  assert.equal(calls.at(-1)[calls.at(-1).indexOf("--include") + 1], "*.html", "HTML goes up last");
});

test("writes config.js for the API URL and versions the long-lived assets in the HTML", () => {
  const { result, dir } = deployWithStub(["my-site", API_URL + "/"]);
  assert.equal(result.status, 0, result.stderr);
  const config = fs.readFileSync(path.join(dir, "uploaded-config.js"), "utf8");
  const window = {};
  new Function("window", config)(window);
  assert.deepEqual(window.OTP_LOGIN_CONFIG, { apiBaseUrl: API_URL }, "trailing slash dropped");

  const uploaded = path.join(dir, "uploaded");
  assert.ok(!fs.existsSync(path.join(uploaded, "README.md")), "the README stays out of the bucket");
  const hash = (name) => crypto.createHash("sha256").update(fs.readFileSync(path.join(FRONTEND, name))).digest("hex").slice(0, 12);
  const pages = fs.readdirSync(FRONTEND).filter((name) => name.endsWith(".html"));
  assert.ok(pages.includes("reset.html"), "the reset page is one of them");
  for (const name of pages) {
    const page = fs.readFileSync(path.join(uploaded, name), "utf8");
    assert.ok(page.includes(`href="style.css?v=${hash("style.css")}"`), `${name}: style.css versioned`);
    assert.ok(page.includes(`src="authentication.js?v=${hash("authentication.js")}"`), `${name}: authentication.js versioned`);
    assert.ok(page.includes('src="config.js"'), `${name}: config.js is not versioned: it is revalidated instead`);
  }
  assert.equal(fs.readFileSync(path.join(FRONTEND, "config.js"), "utf8").includes(API_URL), false, "the repo's config.js is untouched");
});

test("--dry-run prints the commands and the config.js, and runs nothing", () => {
  const { result, calls } = deployWithStub(["--dry-run", "my-site", API_URL]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(calls, []);
  const lines = result.stdout.split("\n");
  const commands = lines.filter((l) => l.startsWith("aws s3 "));
  assert.equal(commands.length, 4);
  assert.match(commands[0], /--include '\*\.css' --content-type 'text\/css; charset=utf-8' --cache-control 'public, max-age=31536000, immutable'/);
  assert.match(commands[1], /--include '\*\.js' --exclude config\.js --content-type 'text\/javascript; charset=utf-8' --cache-control 'public, max-age=31536000, immutable'/);
  assert.match(commands[2], /config\.js s3:\/\/my-site\/config\.js --content-type 'text\/javascript; charset=utf-8' --cache-control no-cache$/);
  assert.match(commands[3], /--include '\*\.html' --content-type 'text\/html; charset=utf-8' --cache-control no-cache$/);
  assert.ok(lines.includes(`window.OTP_LOGIN_CONFIG = { apiBaseUrl: "${API_URL}" };`));
});

test("refuses a bad bucket, a URL that could break config.js, and missing arguments", () => {
  for (const args of [["my-site"], ["My_Site", API_URL], ["my-site", 'https://x";alert(1);"'], ["my-site", "ftp://x"], ["--force", "my-site", API_URL]]) {
    const { result, calls } = deployWithStub(args);
    assert.equal(result.status, 2, args.join(" "));
    assert.deepEqual(calls, [], args.join(" "));
  }
});

test("--with-keys publishes the key set and discovery document first, as JSON cached ten minutes", () => {
  const stub = path.join(__dirname, "fixtures", "otp-login");
  const { result, calls, dir } = deployWithStubEnv(["--with-keys", "my-site", API_URL], { OTP_LOGIN: stub });
  assert.equal(result.status, 0, result.stderr);
  const documents = calls.slice(0, 2);
  assert.deepEqual(documents.map((c) => c[3]), ["s3://my-site/.well-known/jwks.json", "s3://my-site/.well-known/openid-configuration"]);
  for (const call of documents) {
    assert.equal(call[1], "cp");
    assert.equal(option(call, "--content-type"), "application/json");
    assert.equal(option(call, "--cache-control"), "public, max-age=600");
  }
  const run = (command) => spawnSync(stub, [command], { encoding: "utf8" }).stdout;
  assert.equal(fs.readFileSync(path.join(dir, "uploaded-jwks.json"), "utf8"), run("jwks"));
  assert.equal(fs.readFileSync(path.join(dir, "uploaded-openid-configuration"), "utf8"), run("discovery"));
  const syncs = calls.filter((c) => c[1] === "sync");
  assert.equal(syncs.length, 3, "the pages still go up");
  assert.ok(syncs.every((c) => option(c, "--exclude") === "*" && !option(c, "--include").includes("json")),
    "no sync uploads the documents with another content type");
});

test("--with-keys --dry-run shows the document uploads and the discovery document", () => {
  const stub = path.join(__dirname, "fixtures", "otp-login");
  const { result, calls } = deployWithStubEnv(["--dry-run", "--with-keys", "my-site", API_URL], { OTP_LOGIN: stub });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(calls, []);
  const commands = result.stdout.split("\n").filter((l) => l.startsWith("aws s3 "));
  assert.equal(commands.length, 6);
  assert.match(commands[0], /^aws s3 cp \S+\/\.well-known\/jwks\.json s3:\/\/my-site\/\.well-known\/jwks\.json --content-type application\/json --cache-control 'public, max-age=600'$/);
  assert.match(commands[1], /^aws s3 cp \S+\/\.well-known\/openid-configuration s3:\/\/my-site\/\.well-known\/openid-configuration --content-type application\/json --cache-control 'public, max-age=600'$/);
  assert.ok(result.stdout.includes('"jwks_uri": "https://d111111abcdef8.cloudfront.net/.well-known/jwks.json"'));
});

test("--with-keys stops before uploading anything when otp-login prints no documents", () => {
  const stub = path.join(__dirname, "fixtures", "otp-login");
  const { result, calls } = deployWithStubEnv(["--with-keys", "my-site", API_URL], { OTP_LOGIN: stub, OTP_LOGIN_STUB_BROKEN: "1" });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /printed no key set or discovery document/);
  assert.deepEqual(calls, []);
});
