// Finds the changes between two OpenAPI 3 documents that can break an existing client: a removed
// path, operation, status or response field, a changed type, a new required request field or
// parameter, a newly required body or credential, a request value the old document allowed and
// the new one refuses (a new or tighter format, length, bound, pattern, or closed object).
// Deliberately small; it knows the shapes poem-openapi writes (local $refs, objects, arrays,
// allOf), not all of OpenAPI.
//
//   node tools/contract-diff.mjs <released.yaml | folder of openapi-X.Y.Z.yaml> <current.yaml>
//
// Given a folder, it compares against the highest released version in it.
// exits 1 when a breaking change is found and the current info.version is not a breaking-release
// bump of the released one (a new major version; a new minor version while the major is 0).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parse } from "yaml";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every breaking change from `base` to `head`, as `{ where, what }`. */
export function breakingChanges(base, head) {
  const found = [];
  const report = (where, what) => found.push({ where, what });
  const basePaths = base.paths ?? {};
  const headPaths = head.paths ?? {};
  for (const [path, baseItem] of Object.entries(basePaths)) {
    const headItem = headPaths[path];
    if (!headItem) {
      report(path, "path removed");
      continue;
    }
    for (const method of METHODS.filter((m) => baseItem[m])) {
      const where = `${method.toUpperCase()} ${path}`;
      const headOp = headItem[method];
      if (!headOp) report(where, "operation removed");
      else compareOperation(base, head, baseItem[method], headOp, where, report);
    }
  }
  return found;
}

function compareOperation(base, head, baseOp, headOp, where, report) {
  if (baseOp.operationId && baseOp.operationId !== headOp.operationId) {
    report(where, `operationId changed from ${baseOp.operationId} to ${headOp.operationId ?? "none"} (SDK method names follow it)`);
  }
  if (!hasSecurity(baseOp, base) && hasSecurity(headOp, head)) {
    report(where, "now requires credentials");
  }
  compareParameters(base, head, baseOp.parameters ?? [], headOp.parameters ?? [], where, report);
  compareRequestBody(base, head, baseOp.requestBody, headOp.requestBody, where, report);
  const headResponses = headOp.responses ?? {};
  for (const [status, baseResp] of Object.entries(baseOp.responses ?? {})) {
    const headResp = headResponses[status];
    if (!headResp) {
      report(where, `response status ${status} removed`);
      continue;
    }
    const baseContent = deref(base, baseResp).content ?? {};
    const headContent = deref(head, headResp).content ?? {};
    for (const [mediaType, media] of Object.entries(baseContent)) {
      if (!headContent[mediaType]) {
        report(`${where} ${status}`, `response media type ${mediaType} removed`);
        continue;
      }
      compareSchema(base, head, media.schema, headContent[mediaType].schema, {
        where: `${where} ${status} body`,
        direction: "response",
        report,
        seen: new Set(),
      });
    }
  }
}

function hasSecurity(op, doc) {
  const requirements = op.security ?? doc.security ?? [];
  // `[]` and `[{}]` both mean anyone may call.
  return requirements.length > 0 && requirements.every((r) => Object.keys(r).length > 0);
}

function compareParameters(base, head, baseParams, headParams, where, report) {
  const key = (p) => `${p.in}:${p.name}`;
  const baseByKey = new Map(baseParams.map((p) => deref(base, p)).map((p) => [key(p), p]));
  for (const param of headParams.map((p) => deref(head, p))) {
    const old = baseByKey.get(key(param));
    if (!old) {
      if (param.required) report(where, `new required ${param.in} parameter ${param.name}`);
      continue;
    }
    if (param.required && !old.required) report(where, `${param.in} parameter ${param.name} became required`);
    compareSchema(base, head, old.schema, param.schema, {
      where: `${where} ${param.in} parameter ${param.name}`,
      direction: "request",
      report,
      seen: new Set(),
    });
  }
  const headKeys = new Set(headParams.map((p) => key(deref(head, p))));
  for (const [k, old] of baseByKey) {
    // A client that still sends a removed parameter gets it ignored at best, refused at worst.
    if (!headKeys.has(k)) report(where, `${old.in} parameter ${old.name} removed`);
  }
}

function compareRequestBody(base, head, baseBody, headBody, where, report) {
  if (!headBody) return;
  const headReq = deref(head, headBody);
  if (!baseBody) {
    if (headReq.required) report(where, "now requires a request body");
    return;
  }
  const baseReq = deref(base, baseBody);
  if (headReq.required && !baseReq.required) report(where, "request body became required");
  const headContent = headReq.content ?? {};
  for (const [mediaType, media] of Object.entries(baseReq.content ?? {})) {
    if (!headContent[mediaType]) {
      report(where, `request media type ${mediaType} no longer accepted`);
      continue;
    }
    compareSchema(base, head, media.schema, headContent[mediaType].schema, {
      where: `${where} request body`,
      direction: "request",
      report,
      seen: new Set(),
    });
  }
}

/**
 * Compares one schema in both documents. In a response, what a client reads must stay: fields
 * may not disappear or turn optional. In a request, what a client sends must stay enough: no
 * new required field. In both, a type may not change.
 */
function compareSchema(base, head, baseRef, headRef, ctx) {
  if (!baseRef || !headRef) return;
  const pair = `${baseRef.$ref ?? ""}|${headRef.$ref ?? ""}|${ctx.direction}`;
  if ((baseRef.$ref || headRef.$ref) && ctx.seen.has(pair)) return;
  ctx.seen.add(pair);
  const a = flatten(base, baseRef);
  const b = flatten(head, headRef);
  const { where, direction, report } = ctx;

  if (typeOf(a) && typeOf(b) && typeOf(a) !== typeOf(b)) {
    report(where, `type changed from ${typeOf(a)} to ${typeOf(b)}`);
    return;
  }
  if (a.format && b.format !== a.format) {
    report(where, `format changed from ${a.format} to ${b.format ?? "none"}`);
  }
  if (direction === "request") narrowedRequest(a, b, where, report);
  if (direction === "response" && b.nullable && !a.nullable) report(where, "may now be null");
  if (direction === "request" && a.nullable && !b.nullable) report(where, "no longer accepts null");
  if (a.enum && b.enum) {
    const [from, to] = direction === "request" ? [a.enum, b.enum] : [b.enum, a.enum];
    // Requests: a value clients send was dropped. Responses: a value clients don't know appeared.
    const missing = from.filter((v) => !to.includes(v));
    if (missing.length) report(where, `enum ${direction === "request" ? "lost" : "gained"} ${missing.join(", ")}`);
  } else if (b.enum && !a.enum && direction === "request") {
    report(where, "now restricted to an enum");
  }

  const aProps = a.properties ?? {};
  const bProps = b.properties ?? {};
  const aRequired = new Set(a.required ?? []);
  const bRequired = new Set(b.required ?? []);
  if (direction === "response") {
    for (const name of Object.keys(aProps)) {
      if (!(name in bProps)) report(where, `response field ${name} removed`);
      else if (aRequired.has(name) && !bRequired.has(name)) report(where, `response field ${name} is no longer always present`);
    }
  } else {
    for (const name of bRequired) {
      if (!aRequired.has(name)) {
        report(where, name in aProps ? `request field ${name} became required` : `new required request field ${name}`);
      }
    }
  }
  for (const [name, schema] of Object.entries(aProps)) {
    if (name in bProps) compareSchema(base, head, schema, bProps[name], { ...ctx, where: `${where}.${name}` });
  }
  if (a.items && b.items) compareSchema(base, head, a.items, b.items, { ...ctx, where: `${where}[]` });
}

// Lower and upper bounds, with the value that means "no bound" when the keyword is absent.
const LOWER_BOUNDS = { minLength: 0, minimum: -Infinity, minItems: 0, minProperties: 0 };
const UPPER_BOUNDS = { maxLength: Infinity, maximum: Infinity, maxItems: Infinity, maxProperties: Infinity };

/**
 * Request values the old schema allowed and the new one refuses. The documents alone decide: a
 * rule the server enforced all along but the old document did not state still narrows what that
 * document promised its clients they could send.
 */
function narrowedRequest(a, b, where, report) {
  if (b.format && !a.format) report(where, `now restricted to format ${b.format}`);
  if (b.pattern !== undefined && b.pattern !== a.pattern) {
    report(where, a.pattern === undefined ? `now restricted to pattern ${b.pattern}` : `pattern changed from ${a.pattern} to ${b.pattern}`);
  }
  for (const [key, none] of Object.entries(LOWER_BOUNDS)) {
    const [from, to] = [a[key] ?? none, b[key] ?? none];
    if (to > from) report(where, `${key} raised from ${a[key] ?? "none"} to ${to}`);
  }
  for (const [key, none] of Object.entries(UPPER_BOUNDS)) {
    const [from, to] = [a[key] ?? none, b[key] ?? none];
    if (to < from) report(where, `${key} lowered from ${a[key] ?? "none"} to ${to}`);
  }
  if (b.additionalProperties === false && a.additionalProperties !== false && typeOf(b) === "object") {
    report(where, "no longer accepts fields it does not name");
  }
}

function typeOf(schema) {
  return schema.type ?? (schema.properties ? "object" : undefined);
}

/**
 * Resolves local $refs and merges `allOf` into one schema. A part's keywords count as the
 * schema's own (poem-openapi wraps a `$ref` in `allOf` to give a field its own description, and
 * the `$ref`'s format, pattern and bounds still bind that field); where parts disagree, the
 * tighter bound wins.
 */
function flatten(doc, schema, depth = 0) {
  const s = deref(doc, schema);
  if (!s.allOf || depth > 20) return s;
  const merged = { ...s, properties: { ...(s.properties ?? {}) }, required: [...(s.required ?? [])] };
  delete merged.allOf;
  for (const part of s.allOf) {
    const { properties, required, ...p } = flatten(doc, part, depth + 1);
    Object.assign(merged.properties, properties ?? {});
    merged.required.push(...(required ?? []));
    for (const [key, value] of Object.entries(p)) {
      if (merged[key] === undefined) merged[key] = value;
      else if (key in LOWER_BOUNDS) merged[key] = Math.max(merged[key], value);
      else if (key in UPPER_BOUNDS) merged[key] = Math.min(merged[key], value);
    }
  }
  return merged;
}

function deref(doc, obj) {
  let current = obj;
  for (let hops = 0; current && current.$ref && hops < 20; hops++) {
    if (!current.$ref.startsWith("#/")) throw new Error(`only local $refs are supported: ${current.$ref}`);
    current = current.$ref
      .slice(2)
      .split("/")
      .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce((node, part) => node?.[part], doc);
    if (current === undefined) throw new Error(`unresolved $ref ${obj.$ref}`);
  }
  return current ?? {};
}

/** Whether `to` may carry breaking changes relative to `from` under semantic versioning. */
export function isBreakingRelease(from, to) {
  const [a, b] = [from, to].map((v) => {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(String(v));
    if (!m) throw new Error(`not a semantic version: ${v}`);
    return m.slice(1).map(Number);
  });
  if (b[0] !== a[0]) return b[0] > a[0];
  return a[0] === 0 && b[1] > a[1];
}

/** The newest `openapi-X.Y.Z.yaml` in `dir`. */
export function latestReleased(dir) {
  const versions = readdirSync(dir)
    .map((name) => /^openapi-(\d+)\.(\d+)\.(\d+)\.yaml$/.exec(name))
    .filter(Boolean)
    .sort((x, y) => x[1] - y[1] || x[2] - y[2] || x[3] - y[3]);
  if (versions.length === 0) throw new Error(`no openapi-X.Y.Z.yaml in ${dir}`);
  return join(dir, versions.at(-1)[0]);
}

export function loadSpec(file) {
  return parse(readFileSync(file, "utf8"));
}

function main([releasedArg, currentFile]) {
  if (!releasedArg || !currentFile) {
    console.error("usage: contract-diff.mjs <released.yaml | released folder> <current.yaml>");
    return 2;
  }
  const releasedFile = statSync(releasedArg).isDirectory() ? latestReleased(releasedArg) : releasedArg;
  const released = loadSpec(releasedFile);
  const current = loadSpec(currentFile);
  const changes = breakingChanges(released, current);
  const from = released.info.version;
  const to = current.info.version;
  if (changes.length === 0) {
    console.log(`contract: no breaking change from ${from} (${releasedFile}) to ${to}`);
    return 0;
  }
  const allowed = isBreakingRelease(from, to);
  console.log(`contract: ${changes.length} breaking change(s) from ${from} to ${to}:`);
  for (const c of changes) console.log(`  - ${c.where}: ${c.what}`);
  if (allowed) {
    console.log(`contract: allowed, ${to} is a breaking release after ${from}`);
    return 0;
  }
  console.error(
    `contract: ${to} must not break clients of ${from}. Undo the change, or make it a breaking ` +
      `release (bump the version in Cargo.toml: major, or minor while 0.x) and say so in CHANGELOG.md.`,
  );
  return 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
