// Reads a whole MIME message as the service sends it through SES (raw): its headers, and a
// multipart/alternative of a text and an HTML part, each 7bit, quoted-printable or base64.

/** The header fields (names in lower case, folded lines joined) and the body of `text`. */
function split(text) {
  const end = text.search(/\r?\n\r?\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? "" : text.slice(end).replace(/^\r?\n\r?\n/, "");
  const fields = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { fields, body };
}

// What arrives is ASCII; the bytes it encodes are UTF-8.
const utf8 = (binary) => Buffer.from(binary, "latin1").toString("utf8");
const unquote = (text) =>
  text.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
const unbase64 = (text) => Buffer.from(text.replace(/\s+/g, ""), "base64").toString("latin1");

function decodeBody(fields, body) {
  const encoding = (fields["content-transfer-encoding"] || "7bit").toLowerCase();
  if (encoding === "base64") return utf8(unbase64(body));
  if (encoding === "quoted-printable") return utf8(unquote(body));
  return body;
}

/** A header's RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) in plain text. */
function decodeWords(value) {
  // The space between two encoded words is folding, not text; a character may span them.
  return utf8(value.replace(/\?=\s+=\?/g, "?==?").replace(/=\?[^?]+\?([bq])\?([^?]*)\?=/gi, (_, kind, text) =>
    (kind.toLowerCase() === "b" ? unbase64(text) : unquote(text.replace(/_/g, " ")))));
}

/** `{ to, subject, text, html }` of a raw message; `to` is the one address, in lower case. */
function parseMail(raw) {
  const { fields, body } = split(raw);
  const to = (fields.to || "").replace(/^.*<([^>]*)>.*$/, "$1").trim().toLowerCase();
  const boundary = /boundary="?([^";]+)"?/i.exec(fields["content-type"] || "");
  const parts = boundary
    ? body.split("--" + boundary[1]).slice(1, -1).map((part) => split(part.replace(/^\r?\n/, "")))
    : [{ fields, body }];
  const part = (type) => parts.find((p) => (p.fields["content-type"] || "text/plain").toLowerCase().startsWith(type));
  const decoded = (type) => (part(type) ? decodeBody(part(type).fields, part(type).body) : "");
  return { to, subject: decodeWords(fields.subject || ""), text: decoded("text/plain"), html: decoded("text/html") };
}

module.exports = { parseMail };
