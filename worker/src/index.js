// The worker's entry module. WebSocket upgrades (on any path, as with
// cmd/tracker; clients use wss://HOST/announce) go to the Tracker Durable
// Object; every other request goes to the Go worker (main.go: /healthz,
// /stats). Static files, when the assets directory has any, are served by
// the platform before this runs (wrangler.jsonc "assets").

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
    return goWorker.fetch(request, env, ctx);
  },
};
