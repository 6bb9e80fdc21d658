// Debian's Chromium driven by playwright-core (which cannot download a browser here); every page
// records the API requests it makes, and the status each got, so a test can check them against
// openapi.yaml.
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");
const { ARTIFACTS } = require("./paths");

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
// Without the background-networking flags Chromium keeps dialling Google, which this machine refuses.
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** One browser per test file; Playwright gives it a fresh temporary profile. */
async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 30000 });
  const requests = [];

  /** A page in its own context (own sessionStorage), its API requests appended to `requests`. */
  async function newPage(options = DESKTOP) {
    const context = await browser.newContext(options);
    context.setDefaultTimeout(10000);
    const page = await context.newPage();
    page.on("request", (request) => {
      if (!["fetch", "xhr"].includes(request.resourceType())) return;
      requests.push(Promise.all([request.allHeaders(), request.response()]).then(([headers, response]) => ({
        method: request.method(), url: request.url(), headers, body: request.postData(),
        status: response?.status(),
      })));
    });
    return page;
  }

  return {
    newPage,
    /** Everything the pages asked of any server with fetch/XHR so far. */
    recordedRequests: () => Promise.all(requests),
    close: () => browser.close(),
  };
}

async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name + ".png"), fullPage: true });
}

module.exports = { launchBrowser, screenshot, DESKTOP, PHONE };
