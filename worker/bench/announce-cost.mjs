// Measures the JavaScript CPU time of the Tracker Durable Object per
// message (README.md "Cost per announce"): the object's own code under Node
// (V8, the engine workerd runs), with a stub runtime that counts SQLite
// statements and the bytes sent. The runtime's own cost of delivering a
// WebSocket message comes on top and is not measured here.
//
//   node bench/announce-cost.mjs        (npm run bench)

import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
const { Tracker } = await import("../src/tracker-do.js");

function stubRuntime() {
  const counts = { statements: 0, bytesSent: 0 };
  const sql = {
    exec() {
      counts.statements++;
      return { toArray: () => [], rowsRead: 0, rowsWritten: 0 };
    },
  };
  const ctx = { storage: { sql }, getWebSockets: () => [], acceptWebSocket() {} };
  return { ctx, counts };
}

function stubSocket() {
  let att = null;
  return {
    send(s) {
      this.sent = (this.sent ?? 0) + s.length;
    },
    close() {},
    serializeAttachment(a) {
      att = a;
    },
    deserializeAttachment() {
      return att;
    },
  };
}

const alphabet = "0123456789AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz";
function id(n) {
  let s = "";
  for (let i = 0; i < 20; i++) {
    s += alphabet[n % alphabet.length];
    n = Math.floor(n / alphabet.length) + i * 7;
  }
  return s;
}

const sdp = "x".repeat(1200); // a sealed SDP of a typical size
function offers(n, k) {
  return Array.from({ length: n }, (_, i) => ({ offer_id: id(1e6 + k * 10 + i), offer: { type: "offer", sdp } }));
}

// setup returns a tracker holding `peers` members of one swarm, one socket
// each, and the sockets.
function setup(peers, env = {}) {
  const { ctx, counts } = stubRuntime();
  const t = new Tracker(ctx, { ANNOUNCE_RATE: 1e9, ANNOUNCE_BURST: 1e9, ...env });
  const hash = id(7);
  const sockets = [];
  for (let i = 0; i < peers; i++) {
    const ws = stubSocket();
    const cid = `conn-${i}`;
    ws.serializeAttachment({ id: cid, ip: `10.0.${i >> 8}.${i & 255}` });
    t.addConn(cid, `10.0.${i >> 8}.${i & 255}`, ws);
    t.webSocketMessage(ws, JSON.stringify({ action: "announce", info_hash: hash, peer_id: id(i), numwant: 3, offers: [] }));
    sockets.push(ws);
  }
  return { t, counts, hash, sockets };
}

async function measure(name, peers, makeMessage, env, { outsiders = false } = {}) {
  const { t, counts, hash, sockets: members } = setup(peers, env);
  let sockets = members;
  if (outsiders) {
    // Sockets of their own, in no swarm: a takeover comes from elsewhere.
    sockets = members.map((_, i) => {
      const ws = stubSocket();
      ws.serializeAttachment({ id: `outsider-${i}`, ip: "192.0.2.1" });
      t.addConn(`outsider-${i}`, "192.0.2.1", ws);
      return ws;
    });
  }
  const n = 20000;
  const msgs = Array.from({ length: n }, (_, k) => makeMessage(hash, k));
  const before = counts.statements;
  for (let k = 0; k < 2000; k++) await t.webSocketMessage(sockets[k % peers], msgs[k]); // warm up
  const start = process.hrtime.bigint();
  for (let k = 0; k < n; k++) await t.webSocketMessage(sockets[k % peers], msgs[k]);
  const ns = Number(process.hrtime.bigint() - start) / n;
  const statements = (counts.statements - before) / (n + 2000);
  console.log(`| ${name.padEnd(44)} | ${String(peers).padStart(5)} | ${(ns / 1000).toFixed(1).padStart(6)} µs | ${statements.toFixed(2).padStart(4)} |`);
}

console.log(`Tracker Durable Object, JS CPU per message under Node ${process.version} (stub runtime)\n`);
console.log("| message | swarm | CPU | SQL statements |");
console.log("|---|---|---|---|");
const announce = (offersPerAnnounce) => (hash, k) =>
  JSON.stringify({ action: "announce", info_hash: hash, peer_id: id(k % 1000), numwant: offersPerAnnounce, offers: offers(offersPerAnnounce, k) });
for (const peers of [10, 1000]) {
  await measure("re-announce, 3 offers of 1.2 KB (forwarded)", peers, (hash, k) =>
    JSON.stringify({ action: "announce", info_hash: hash, peer_id: id(k % peers), numwant: 3, offers: offers(3, k) }));
}
await measure("re-announce, passive (left 0, no offers)", 1000, (hash, k) =>
  JSON.stringify({ action: "announce", info_hash: hash, peer_id: id(k % 1000), left: 0, numwant: 3, offers: [] }));
await measure("answer (forwarded to to_peer_id)", 1000, (hash, k) =>
  JSON.stringify({ action: "announce", info_hash: hash, peer_id: id(k % 1000), to_peer_id: id((k + 1) % 1000), offer_id: id(2e6 + k), answer: { type: "answer", sdp } }));
await measure("takeover attempt (refused)", 1000, (hash, k) =>
  JSON.stringify({ action: "announce", info_hash: hash, peer_id: id(k % 1000), numwant: 3, offers: offers(3, k) }), {}, { outsiders: true });
await measure("join a swarm / stop, alternately", 1000, (hash, k) =>
  JSON.stringify({ action: "announce", info_hash: id(9), peer_id: id(k % 1000), numwant: 3, offers: [], ...(k % 2000 >= 1000 ? { event: "stopped" } : {}) }));
await measure("over the rate limit (dropped unread)", 1000, announce(3), { ANNOUNCE_RATE: 1e-9, ANNOUNCE_BURST: 1 });
