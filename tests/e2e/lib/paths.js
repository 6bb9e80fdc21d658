// Where things are, relative to this checkout.
const path = require("node:path");

const REPO = path.resolve(__dirname, "..", "..", "..");
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, "target");

module.exports = {
  REPO,
  FRONTEND: path.join(REPO, "frontend"),
  OPENAPI: path.join(REPO, "openapi.yaml"),
  ARTIFACTS: path.join(REPO, "test-artifacts"),
  DEPLOY_SCRIPT: path.join(REPO, "scripts", "deploy-frontend"),
  BINARY: process.env.OTP_LOGIN_BIN || path.join(TARGET, "debug", "otp-login"),
};
