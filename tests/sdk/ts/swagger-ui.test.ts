// Swagger UI at /docs, in headless Chromium, as a person uses it: "Try it out" on /register,
// then "Authorize" with a session token and "Try it out" on /me and /logout. Screenshots go to
// test-artifacts/ at the repository root.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { type Browser, chromium, type Locator, type Page } from "playwright-core";

import { baseUrl, codeAfter, uniqueEmail } from "./support.ts";

const artifacts = join(dirname(fileURLToPath(import.meta.url)), "../../../test-artifacts");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// The machine has no network but loopback: keep Chromium from trying to reach Google's services.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const password = "correct-horse-42";

/** Expands an operation, presses "Try it out", optionally sets the body, executes it and returns the live response. */
async function tryItOut(page: Page, operationId: string, body?: unknown): Promise<Locator> {
  const operation = page.locator(`[id$="-${operationId}"].opblock`);
  await operation.locator(".opblock-summary").first().click();
  await operation.getByRole("button", { name: "Try it out" }).click();
  if (body !== undefined) {
    await operation.locator("textarea.body-param__text").fill(JSON.stringify(body, null, 2));
  }
  await operation.getByRole("button", { name: "Execute" }).click();
  const live = operation.locator(".live-responses-table tr.response");
  await live.waitFor({ timeout: 15_000 });
  return live;
}

async function signInThroughTheApi(username: string): Promise<string> {
  const post = (path: string, body: unknown) =>
    fetch(new URL(path, baseUrl), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  assert.equal((await post("/login", { username, password })).status, 200);
  const code = await codeAfter(username, 0);
  const verified = await post("/verify", { username, code });
  assert.equal(verified.status, 200);
  return ((await verified.json()) as { token: string }).token;
}

describe("Swagger UI at /docs", () => {
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];
  let registeredInTheUi: string | undefined;

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(15_000);
    page.on("request", (request) => requested.push(request.url()));
    await page.goto(new URL("/docs", baseUrl).href);
    await page.locator(".swagger-ui .info .title").waitFor();
    await page.screenshot({ path: join(artifacts, "swagger-ui-overview.png") });
  });

  after(async () => {
    await browser?.close();
  });

  it("loads everything from the server itself (no CDN)", () => {
    const origin = new URL(baseUrl).origin;
    const elsewhere = requested.filter((url) => !url.startsWith(origin) && !url.startsWith("data:"));
    assert.deepEqual(elsewhere, []);
  });

  it("creates an account with Try it out on /register (201)", async () => {
    const username = uniqueEmail("ui");
    const live = await tryItOut(page, "register", { username, password });
    assert.equal((await live.locator(".response-col_status").innerText()).trim(), "201");
    assert.match(await live.innerText(), /User created successfully/);
    await live.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, "swagger-ui-register.png") });
    registeredInTheUi = username;
  });

  it("calls /me with the token given to Authorize (200)", async () => {
    // The account made in the UI above, or (when this test runs alone) a fresh one.
    const username = registeredInTheUi ?? uniqueEmail("ui");
    if (!registeredInTheUi) {
      const created = await fetch(new URL("/register", baseUrl), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      assert.equal(created.status, 201);
    }
    const token = await signInThroughTheApi(username);

    await page.locator(".scheme-container button.authorize").click();
    const dialog = page.locator(".dialog-ux .modal-ux");
    await dialog.locator("input#auth-bearer-value").fill(token);
    await dialog.getByRole("button", { name: "Apply credentials" }).click();
    await dialog.getByRole("button", { name: "Remove authorization" }).waitFor();
    await dialog.getByRole("button", { name: "Close" }).click();

    const live = await tryItOut(page, "getCurrentUser");
    assert.equal((await live.locator(".response-col_status").innerText()).trim(), "200");
    assert.match(await live.innerText(), new RegExp(username.replace(/[.]/g, "\\.")));
    const curl = await page.locator(`[id$="-getCurrentUser"].opblock .curl-command`).innerText();
    assert.match(curl, /Authorization: Bearer /);
    await live.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, "swagger-ui-me.png") });
  });

  it("signs out with Try it out on /logout under the same Authorize, and /me then answers 401", async () => {
    const live = await tryItOut(page, "logout", { scope: "all" });
    assert.equal((await live.locator(".response-col_status").innerText()).trim(), "200");
    assert.match(await live.innerText(), /Signed out everywhere/);
    const curl = await page.locator(`[id$="-logout"].opblock .curl-command`).innerText();
    assert.match(curl, /Authorization: Bearer /);
    await live.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, "swagger-ui-logout.png") });

    // /me is still open from the test above (or opened now, when this test runs alone).
    const me = page.locator(`[id$="-getCurrentUser"].opblock`);
    if (await me.getByRole("button", { name: "Execute" }).isVisible()) {
      await me.getByRole("button", { name: "Execute" }).click();
    } else {
      await tryItOut(page, "getCurrentUser");
    }
    const status = me.locator(".live-responses-table tr.response .response-col_status");
    await status.filter({ hasText: "401" }).waitFor();
  });
});
