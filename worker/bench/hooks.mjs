// Module hooks that let Node load the Durable Object's source as wrangler's
// bundler does: "cloudflare:workers" resolves to a stub, and JSON files
// import as their default export.

import { readFile } from "node:fs/promises";

export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") {
    return { url: new URL("./cloudflare-workers-stub.mjs", import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.endsWith(".json")) {
    const text = await readFile(new URL(url), "utf8");
    return { format: "module", source: `export default ${text};`, shortCircuit: true };
  }
  return next(url, context);
}
