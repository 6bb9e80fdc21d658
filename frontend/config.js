// Where the pages find the API. Empty means the origin that served the pages (the local server);
// scripts/deploy-frontend rewrites this file with the API's URL when uploading to S3.
window.OTP_LOGIN_CONFIG = { apiBaseUrl: "" };
