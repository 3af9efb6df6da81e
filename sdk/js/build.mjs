#!/usr/bin/env node
// Builds a JavaScript plugin into a component:
//   node sdk/js/build.mjs PLUGIN.js --world validator-plugin --out plugin.wasm
// The plugin's folder is copied with ferry-plugin.js beside it, so the plugin imports
// "./ferry-plugin.js". ComponentizeJS is found in $FERRY_JS_MODULES (a node_modules folder)
// or in sdk/js/node_modules (`npm install` there).
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { world: { type: "string" }, out: { type: "string" }, wit: { type: "string" } },
});
if (positionals.length !== 1 || !values.world || !values.out) {
  console.error("usage: build.mjs PLUGIN.js --world WORLD --out FILE.wasm [--wit DIR]");
  process.exit(2);
}
const source = resolve(positionals[0]);
const out = resolve(values.out);
const modules = process.env.FERRY_JS_MODULES ?? join(here, "node_modules");
const { componentize } = await import(
  pathToFileURL(join(modules, "@bytecodealliance/componentize-js/src/componentize.js")).href
);

const work = await mkdtemp(join(tmpdir(), "ferry-js-"));
try {
  await cp(dirname(source), work, { recursive: true, filter: (p) => !p.includes("node_modules") });
  await cp(join(here, "ferry-plugin.js"), join(work, "ferry-plugin.js"));
  // The WIT goes in the build folder too: ComponentizeJS reads files through its own WASI
  // view of the file system, which reaches the working folder, not every path.
  await cp(resolve(values.wit ?? join(here, "..", "..", "wit")), join(work, ".ferry-wit"), { recursive: true });
  process.chdir(work);
  const { component } = await componentize({
    sourcePath: join(work, basename(source)),
    witPath: ".ferry-wit",
    worldName: values.world,
    // The worlds import no HTTP; clocks, random and stdio go through the host's sandbox.
    disableFeatures: ["http", "fetch-event"],
  });
  await writeFile(out, component);
} finally {
  await rm(work, { recursive: true, force: true });
}
