// The breaking-change checker's own tests, on edited copies of the real openapi.yaml.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

import { breakingChanges, isBreakingRelease, latestReleased, loadSpec } from "./contract-diff.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SPEC = join(here, "../../../openapi.yaml");
const spec = () => loadSpec(SPEC);
const whats = (changes) => changes.map((c) => `${c.where}: ${c.what}`);

/** The changes from the real spec to a copy edited by `edit`. */
function diffAfter(edit) {
  const head = spec();
  edit(head);
  return whats(breakingChanges(spec(), head));
}

describe("breakingChanges", () => {
  it("finds nothing between a spec and itself", () => {
    assert.deepEqual(breakingChanges(spec(), spec()), []);
  });

  it("flags a removed response field", () => {
    const found = diffAfter((s) => {
      const granted = s.components.schemas.SessionGranted;
      delete granted.properties.token;
      granted.required = granted.required.filter((f) => f !== "token");
    });
    // Every answer of that shape loses it: /verify's and /refresh's.
    assert.deepEqual(found, [
      "POST /verify 200 body: response field token removed",
      "POST /refresh 200 body: response field token removed",
    ]);
  });

  it("flags a response field that stops being required", () => {
    const found = diffAfter((s) => {
      const user = s.components.schemas.CurrentUser;
      user.required = user.required.filter((f) => f !== "username");
    });
    assert.deepEqual(found, ["GET /me 200 body: response field username is no longer always present"]);
  });

  it("flags a removed status", () => {
    const found = diffAfter((s) => delete s.paths["/register"].post.responses["409"]);
    assert.deepEqual(found, ["POST /register: response status 409 removed"]);
  });

  it("flags a changed status (201 answered as 200)", () => {
    const found = diffAfter((s) => {
      const responses = s.paths["/register"].post.responses;
      responses["200"] = responses["201"];
      delete responses["201"];
    });
    assert.deepEqual(found, ["POST /register: response status 201 removed"]);
  });

  it("flags a new required request field", () => {
    const found = diffAfter((s) => {
      const credentials = s.components.schemas.Credentials;
      credentials.properties.tenant = { type: "string" };
      credentials.required.push("tenant");
    });
    assert.deepEqual(found, ["POST /login request body: new required request field tenant"]);
  });

  it("flags a request value the old schema allowed and the new one refuses, wherever it is sent", () => {
    const found = diffAfter((s) => {
      const { Username, NewPassword, OneTimeCode, SignInPassword } = s.components.schemas;
      Username.maxLength = 200;
      NewPassword.minLength = 10;
      OneTimeCode.pattern = "^[0-9]{8}$";
      delete SignInPassword.maxLength;
      SignInPassword.format = "password";
    });
    assert.deepEqual(found, [
      "POST /register request body.username: maxLength lowered from 254 to 200",
      "POST /register request body.password: minLength raised from 8 to 10",
      "POST /login request body.username: maxLength lowered from 254 to 200",
      "POST /login request body.password: now restricted to format password",
      "POST /verify request body.username: maxLength lowered from 254 to 200",
      "POST /verify request body.code: pattern changed from ^[0-9]{6}$ to ^[0-9]{8}$",
      "POST /request-password-reset request body.username: maxLength lowered from 254 to 200",
      "POST /reset-password request body.username: maxLength lowered from 254 to 200",
      "POST /reset-password request body.code: pattern changed from ^[0-9]{6}$ to ^[0-9]{8}$",
      "POST /reset-password request body.new_password: minLength raised from 8 to 10",
      "POST /change-password request body.current_password: now restricted to format password",
      "POST /change-password request body.new_password: minLength raised from 8 to 10",
      "POST /delete-account request body.current_password: now restricted to format password",
      "POST /change-email request body.new_username: maxLength lowered from 254 to 200",
      "POST /change-email request body.current_password: now restricted to format password",
      "POST /confirm-email-change request body.code: pattern changed from ^[0-9]{6}$ to ^[0-9]{8}$",
    ]);
  });

  it("flags a request object that closes to fields it does not name", () => {
    const found = diffAfter((s) => delete s.components.schemas.CodeSubmission.additionalProperties);
    assert.deepEqual(found, []);
    const base = spec();
    delete base.components.schemas.CodeSubmission.additionalProperties;
    assert.deepEqual(whats(breakingChanges(base, spec())), [
      "POST /verify request body: no longer accepts fields it does not name",
    ]);
  });

  it("lets a request schema widen: a bound removed or relaxed, a pattern dropped", () => {
    const found = diffAfter((s) => {
      const { Username, NewPassword, OneTimeCode } = s.components.schemas;
      delete Username.maxLength;
      NewPassword.minLength = 6;
      delete OneTimeCode.pattern;
    });
    assert.deepEqual(found, []);
  });

  it("flags a changed type, in a response and in a request", () => {
    const found = diffAfter((s) => {
      s.components.schemas.SessionGranted.properties.expires_in = { type: "string" };
      s.components.schemas.CodeSubmission.properties.code = { type: "integer" };
    });
    assert.deepEqual(found, [
      "POST /verify request body.code: type changed from string to integer",
      "POST /verify 200 body.expires_in: type changed from integer to string",
      "POST /refresh 200 body.expires_in: type changed from integer to string",
    ]);
  });

  it("flags removed paths and operations", () => {
    const found = diffAfter((s) => {
      delete s.paths["/health"];
      delete s.paths["/me"].get;
    });
    assert.deepEqual(found, ["GET /me: operation removed", "/health: path removed"]);
  });

  it("flags a renamed operationId, which renames SDK methods", () => {
    const found = diffAfter((s) => (s.paths["/login"].post.operationId = "signIn"));
    assert.deepEqual(found, ["POST /login: operationId changed from login to signIn (SDK method names follow it)"]);
  });

  it("flags credentials newly required on a public operation", () => {
    const found = diffAfter((s) => (s.paths["/health"].get.security = [{ BearerToken: [] }]));
    assert.deepEqual(found, ["GET /health: now requires credentials"]);
  });

  it("lets additions through: new optional request field, new response field, new status, new path", () => {
    const found = diffAfter((s) => {
      s.components.schemas.Credentials.properties.remember_me = { type: "boolean" };
      s.components.schemas.CurrentUser.properties.locale = { type: "string" };
      s.components.schemas.CurrentUser.required.push("locale");
      s.paths["/register"].post.responses["422"] = s.paths["/register"].post.responses["409"];
      s.paths["/me/devices"] = { get: { operationId: "listDevices", responses: { 200: { description: "Devices" } } } };
    });
    assert.deepEqual(found, []);
  });
});

describe("isBreakingRelease", () => {
  it("allows breaking changes only with a new major version, or a new minor one before 1.0", () => {
    assert.equal(isBreakingRelease("0.1.0", "0.2.0"), true);
    assert.equal(isBreakingRelease("0.1.0", "0.1.1"), false);
    assert.equal(isBreakingRelease("0.1.0", "1.0.0"), true);
    assert.equal(isBreakingRelease("1.2.3", "2.0.0"), true);
    assert.equal(isBreakingRelease("1.2.3", "1.3.0"), false);
    assert.equal(isBreakingRelease("1.2.3", "1.2.3"), false);
  });
});

describe("the command", () => {
  const run = (released, current) => {
    const dir = mkdtempSync(join(tmpdir(), "contract-diff-"));
    try {
      writeFileSync(join(dir, "openapi-0.1.0.yaml"), stringify(released));
      writeFileSync(join(dir, "openapi-0.0.9.yaml"), "not even yaml: [");
      writeFileSync(join(dir, "current.yaml"), stringify(current));
      assert.equal(latestReleased(dir), join(dir, "openapi-0.1.0.yaml"));
      return spawnSync(process.execPath, [join(here, "contract-diff.mjs"), dir, join(dir, "current.yaml")], {
        encoding: "utf8",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const withoutConflict = (version) => {
    const s = spec();
    s.info.version = version;
    delete s.paths["/register"].post.responses["409"];
    return s;
  };
  const released = () => Object.assign(spec(), { info: { ...spec().info, version: "0.1.0" } });

  it("fails on a breaking change under the same version, naming it", () => {
    const result = run(released(), withoutConflict("0.1.1"));
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /POST \/register: response status 409 removed/);
  });

  it("passes a breaking change that comes with a breaking release", () => {
    const result = run(released(), withoutConflict("0.2.0"));
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /allowed, 0\.2\.0 is a breaking release after 0\.1\.0/);
  });

  it("passes an unchanged contract", () => {
    const result = run(released(), released());
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });
});
