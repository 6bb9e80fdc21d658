// Holds the pages to openapi.yaml: each request they make must be one of its operations, with a
// declared media type, a body valid for the request schema, and the bearer token where required.
// The pages leave the value rules of a field (format, length, pattern) to the server: they send
// what was typed and show the server's 400 next to the field. So a body that breaks only those
// rules conforms when, and only when, the server refused it with 400.
const fs = require("node:fs");
const Ajv = require("ajv");
const YAML = require("yaml");

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const essence = (mediaType) => String(mediaType || "").split(";")[0].trim().toLowerCase();

// The pages must send nothing the spec does not name, in any object it leaves open too.
function closeObjects(schema) {
  if (Array.isArray(schema)) schema.forEach(closeObjects);
  else if (schema && typeof schema === "object") {
    if (schema.type === "object" && schema.properties && !("additionalProperties" in schema)) {
      schema.additionalProperties = false;
    }
    Object.values(schema).forEach(closeObjects);
  }
  return schema;
}

// Keywords that judge a string's value rather than the body's shape.
const VALUE_RULES = ["format", "pattern", "minLength", "maxLength"];

function withoutValueRules(schema) {
  if (Array.isArray(schema)) schema.forEach(withoutValueRules);
  else if (schema && typeof schema === "object") {
    if (schema.type === "string") VALUE_RULES.forEach((keyword) => delete schema[keyword]);
    Object.values(schema).forEach(withoutValueRules);
  }
  return schema;
}

function pathPattern(template) {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^/}]+\}/g, "[^/]+");
  return new RegExp("^" + escaped + "$");
}

/** The checker for one spec and the API base URL the pages were configured with. */
function loadContract(specPath, apiBaseUrl) {
  const spec = YAML.parse(fs.readFileSync(specPath, "utf8"));
  const components = closeObjects(structuredClone(spec.components || {}));
  const shapeComponents = withoutValueRules(structuredClone(components));
  // Ajv checks formats only with the ajv-formats package; the spec's patterns say what the
  // server checks of an email address beyond its format.
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { email: true } });
  const bearerSchemes = Object.entries(components.securitySchemes || {})
    .filter(([, s]) => s.type === "http" && String(s.scheme).toLowerCase() === "bearer").map(([name]) => name);

  const operations = [];
  for (const [template, item] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const content = (op.requestBody && op.requestBody.content) || {};
      const validators = {};
      const shapes = {};
      for (const [mediaType, media] of Object.entries(content)) {
        validators[essence(mediaType)] = ajv.compile({ ...media.schema, components });
        shapes[essence(mediaType)] = ajv.compile({ ...media.schema, components: shapeComponents });
      }
      const security = op.security || spec.security || [];
      operations.push({
        id: op.operationId || `${method} ${template}`,
        method: method.toUpperCase(),
        pattern: pathPattern(template),
        validators,
        shapes,
        bodyRequired: Boolean(op.requestBody && op.requestBody.required),
        takesQuery: (op.parameters || []).some((p) => p.in === "query"),
        bearer: security.some((requirement) => Object.keys(requirement).some((n) => bearerSchemes.includes(n))),
      });
    }
  }

  const base = new URL(apiBaseUrl);
  const basePath = base.pathname.replace(/\/+$/, "");

  function operationOf(request) {
    const url = new URL(request.url);
    if (url.origin !== base.origin || !url.pathname.startsWith(basePath + "/")) return null;
    const path = url.pathname.slice(basePath.length);
    return operations.find((o) => o.method === request.method && o.pattern.test(path)) || null;
  }

  /**
   * What is wrong with `request` ({method, url, headers, body, status}); empty when it conforms.
   * `status` is the answer the request got, if any.
   */
  function check(request) {
    const where = `${request.method} ${request.url}`;
    const op = operationOf(request);
    if (!op) return [`${where}: not an operation of openapi.yaml at ${apiBaseUrl}`];
    const problems = [];
    if (new URL(request.url).search && !op.takesQuery) problems.push("has a query string the operation does not take");
    if (request.body != null) {
      const contentType = request.headers["content-type"];
      const validate = op.validators[essence(contentType)];
      if (!Object.keys(op.validators).length) problems.push("sends a body, but the operation takes none");
      else if (!validate) problems.push(`Content-Type ${contentType} is not one the operation declares`);
      else {
        let body;
        try { body = JSON.parse(request.body); } catch { problems.push(`body is not JSON: ${request.body}`); }
        if (body !== undefined && !validate(body)) {
          const errors = ajv.errorsText(validate.errors);
          const shape = op.shapes[essence(contentType)];
          if (!shape(body)) problems.push(`body ${request.body} breaks the request schema: ${errors}`);
          else if (request.status !== 400) {
            problems.push(`body ${request.body} breaks the request schema (${errors}), yet was answered ${request.status}, not 400`);
          }
        }
      }
    } else if (op.bodyRequired) {
      problems.push("sends no body, but the operation requires one");
    }
    if (op.bearer && !/^Bearer \S+$/.test(request.headers.authorization || "")) {
      problems.push("carries no Authorization: Bearer token");
    }
    return problems.map((p) => `${op.id} (${where}): ${p}`);
  }

  return { check, operationOf, operationIds: operations.map((o) => o.id) };
}

module.exports = { loadContract };
