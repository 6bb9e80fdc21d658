// What most browser test files share: one API server and one browser for the whole file, both
// closed after its last test. The returned object has `api` and `browser` once `before` has run.
const { after, before } = require("node:test");
const { startApi } = require("./api-server");
const { launchBrowser } = require("./browser");

/** `options` go to `startApi` (e.g. `{ ses: true }`). */
function apiAndBrowser(options) {
  const shared = {};
  before(async () => {
    shared.api = await startApi(options);
    shared.browser = await launchBrowser();
  }, { timeout: 60000 });
  after(async () => {
    await shared.browser?.close();
    await shared.api?.stop();
  }, { timeout: 60000 });
  return shared;
}

module.exports = { apiAndBrowser };
