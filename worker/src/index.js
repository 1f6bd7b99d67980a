// The worker's entry module. WebSocket upgrades (on any path, as with
// cmd/tracker: wss://HOST/announce or wss://HOST/) go to the Tracker Durable
// Object; /healthz and /stats go to the Go worker (main.go), /stats/storage
// to the Durable Object. Static files
// (build/assets, wrangler.jsonc "assets") are served by the platform before
// the worker runs, except on the paths wrangler.jsonc lists in
// run_worker_first: there this module serves the asset, if there is one,
// and lets the Go worker answer otherwise (426 with a hint).

import goWorker from "../build/worker.mjs";
import rules from "../rules.json";

export { Tracker } from "./tracker-do.js";

function isWebSocketUpgrade(request) {
  return (request.headers.get("Upgrade") ?? "")
    .split(",")
    .some((v) => v.trim().toLowerCase() === "websocket");
}

export default {
  async fetch(request, env, ctx) {
    if (isWebSocketUpgrade(request)) {
      const ns = env[rules.durableObject.binding];
      return ns.get(ns.idFromName(rules.durableObject.name)).fetch(request);
    }
    const { pathname } = new URL(request.url);
    if (pathname === "/stats/storage") {
      // The object's SQLite rows read and written since it started (README.md
      // "Cost per announce").
      const ns = env[rules.durableObject.binding];
      return ns.get(ns.idFromName(rules.durableObject.name)).fetch(request);
    }
    if (env.ASSETS && pathname !== "/stats" && pathname !== "/healthz") {
      const asset = await env.ASSETS.fetch(request);
      if (asset.status !== 404) return asset;
    }
    return goWorker.fetch(request, env, ctx);
  },
};
