// Checks that openapi.yaml's info.version is the package version in Cargo.toml.
//
//   node tools/check-version.mjs <Cargo.toml> <openapi.yaml>
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const [cargoFile, specFile] = process.argv.slice(2);
if (!cargoFile || !specFile) {
  console.error("usage: check-version.mjs <Cargo.toml> <openapi.yaml>");
  process.exit(2);
}

/** `version` in the `[package]` table (not a dependency's, not the workspace's). */
function packageVersion(toml) {
  let table = "";
  for (const line of toml.split("\n")) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) table = header[1].trim();
    const version = /^\s*version\s*=\s*"([^"]+)"/.exec(line);
    if (table === "package" && version) return version[1];
  }
  throw new Error(`no [package] version in ${cargoFile}`);
}

const cargo = packageVersion(readFileSync(cargoFile, "utf8"));
const spec = parse(readFileSync(specFile, "utf8")).info.version;
if (cargo !== spec) {
  console.error(
    `version: ${specFile} says ${spec} but ${cargoFile} says ${cargo}; ` +
      "regenerate it with `cargo run -q -- openapi > openapi.yaml`",
  );
  process.exit(1);
}
console.log(`version: openapi.yaml info.version ${spec} = Cargo.toml package version`);
