// Gzips the built scripts and styles once at build time, so the server sends them compressed without spending
// CPU per request (tianyan/web serves NAME.gz to browsers that accept gzip).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = fileURLToPath(new URL("../../tianyan/web/dist", import.meta.url));
let count = 0;
function walk(folder) {
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(js|css|svg|json|txt)$/.test(name) && statSync(path).size > 1024) {
      writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
      count += 1;
    }
  }
}
walk(dist);
console.log(`gzipped ${count} files in ${dist}`);
