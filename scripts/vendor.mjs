#!/usr/bin/env node
// Copy the built front-end libraries from node_modules/ into static/vendor/.
//
// Run after `npm ci --ignore-scripts` (the Makefile's `vendor` target does both).
// No dependencies: only Node's standard library. static/vendor/ is git-ignored;
// the Flask app serves these files from there, never from a CDN.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dest = join(root, "static", "vendor");

// [package, file inside the package, name under static/vendor/]
const FILES = [
  ["htmx.org", "dist/htmx.min.js", "htmx.min.js"],
  ["axe-core", "axe.min.js", "axe.min.js"],
  ["chart.js", "dist/chart.umd.min.js", "chart.umd.min.js"],
  // chart.umd.min.js ends with a sourceMappingURL comment; ship the map so
  // browser dev tools do not log a 404 for it.
  ["chart.js", "dist/chart.umd.min.js.map", "chart.umd.min.js.map"],
];

const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));

mkdirSync(dest, { recursive: true });
let failed = false;
for (const [pkg, file, name] of FILES) {
  const pkgDir = join(root, "node_modules", pkg);
  const src = join(pkgDir, file);
  if (!existsSync(src)) {
    console.error(`vendor: missing ${src} (run \`npm ci --ignore-scripts\` first)`);
    failed = true;
    continue;
  }
  const installed = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
  const locked = lock.packages?.[`node_modules/${pkg}`]?.version;
  if (locked && installed !== locked) {
    console.error(`vendor: ${pkg} ${installed} installed but ${locked} locked; run \`npm ci\``);
    failed = true;
    continue;
  }
  copyFileSync(src, join(dest, name));
  console.log(`vendor: ${pkg}@${installed} ${file} -> static/vendor/${name} (${statSync(src).size} bytes)`);
}
process.exit(failed ? 1 : 0);
