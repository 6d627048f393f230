// Writes the licences of every package the built console ships (the runtime dependencies and theirs) next to it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
const shipped = Object.entries(lock.packages)
  .filter(([path, meta]) => path.startsWith("node_modules/") && !meta.dev)
  .map(([path, meta]) => ({ path, name: path.replace(/^.*node_modules\//, ""), version: meta.version,
    license: meta.license || "see file" }))
  .sort((a, b) => a.name.localeCompare(b.name));

const parts = ["Third-party software shipped in the Tianyan console, with its licence texts.\n"];
for (const pkg of shipped) {
  const folder = join(root, pkg.path);
  const file = existsSync(folder) && readdirSync(folder).find((f) => /^(licen[cs]e|copying)/i.test(f));
  const text = file ? readFileSync(join(folder, file), "utf8").trim() : `(no licence file; declared: ${pkg.license})`;
  parts.push(`${"=".repeat(78)}\n${pkg.name} ${pkg.version} — ${pkg.license}\n${"=".repeat(78)}\n${text}\n`);
}
const out = join(root, "..", "tianyan", "web", "dist", "THIRD-PARTY-LICENSES.txt");
writeFileSync(out, parts.join("\n"));
console.log(`licences of ${shipped.length} shipped packages written to ${out}`);
