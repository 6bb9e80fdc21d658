// Serves frontend/ the way S3 website hosting would, from its own origin, with config.js written
// for a chosen API URL: the setup of a deployed site, on loopback.
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { FRONTEND } = require("./paths");

const TYPES = { ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8" };

/** `site.apiBaseUrl` can be changed between page loads. */
async function startStaticSite(apiBaseUrl) {
  const site = { apiBaseUrl };
  const server = http.createServer((req, res) => {
    let name = decodeURIComponent(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
    if (name === "config.js") {
      res.writeHead(200, { "Content-Type": TYPES[".js"], "Cache-Control": "no-cache" });
      return res.end(`window.OTP_LOGIN_CONFIG = ${JSON.stringify({ apiBaseUrl: site.apiBaseUrl })};\n`);
    }
    const file = path.join(FRONTEND, path.normalize(name));
    if (!file.startsWith(FRONTEND + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      return res.end("Not found");
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  site.origin = `http://127.0.0.1:${server.address().port}`;
  site.stop = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  return site;
}

module.exports = { startStaticSite };
