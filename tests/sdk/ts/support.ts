// What the TypeScript checks share: where the server is, fresh usernames, and the codes the
// development mailer wrote to the server's output. tests/sdk/run sets the variables.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/sdk/run sets it)`);
  return value;
}

export const baseUrl = required("OTP_BASE_URL");
const serverLog = required("OTP_SERVER_LOG");

const run = randomUUID().slice(0, 10);
let counter = 0;

/** A username no other test (or earlier run) has used. */
export function uniqueEmail(kind: string): string {
  return `sdk-${kind}-${run}-${counter++}@example.com`;
}

/**
 * What a code is for, as the development mailer's log line names it. `EmailChange` is the
 * "Confirm your new address" mail, which goes to the new address.
 */
export type Purpose = "SignIn" | "PasswordReset" | "EmailChange";

/** Every code of `purpose` the development mailer logged for `email`, oldest first. */
export function codesFor(email: string, purpose: Purpose = "SignIn"): string[] {
  const text = readFileSync(serverLog, "utf8");
  const escaped = email.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(
    `development mailer: code .*?to=${escaped} code=(\\d{6}) purpose=${purpose}\\b`,
    "g",
  );
  return [...text.matchAll(pattern)].map((m) => m[1] ?? "");
}

/** The first code of `purpose` for `email` after the `seen` it already had, waiting up to `timeoutMs`. */
export async function codeAfter(
  email: string,
  seen: number,
  timeoutMs = 10_000,
  purpose: Purpose = "SignIn",
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const code = codesFor(email, purpose)[seen];
    if (code) return code;
    await sleep(50);
  }
  throw new Error(`no ${purpose} code for ${email} in ${serverLog} within ${timeoutMs} ms`);
}
