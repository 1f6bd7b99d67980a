// The Tracker Durable Object: the WebSockets of the tracker and the swarms
// (info_hash → peers) they announced to. It follows pkg/tracker's rules
// (server.go): offers go to distinct random other peers of the swarm, never
// back to the sender; an answer goes to to_peer_id only and gets no reply;
// other announces get {complete, incomplete, action, interval, info_hash};
// a peer_id belongs to the socket that registered it in a swarm until that
// socket closes; a peer leaves its swarms when its socket closes; limits and
// failure reasons come from rules.json (every limit can be changed with a
// variable, see limits()).
//
// It uses the WebSocket Hibernation API: the runtime keeps the sockets
// while the object sleeps. The swarm memberships live in memory and, so
// that they survive a hibernation, in the object's SQLite storage: one row
// per (info_hash, peer_id), written only when a membership starts or ends,
// never on a re-announce (README.md "Cost per announce"). Each socket's
// attachment holds its connection id and address, which tie it back to its
// rows and its per-address count.

import { DurableObject } from "cloudflare:workers";

import rules from "../rules.json";
import { AnnounceError, decodeAnnounce } from "./announce.js";

const reasons = rules.reasons;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function messageBytes(message) {
  if (typeof message !== "string") return message.byteLength;
  // A UTF-16 unit is at most 3 UTF-8 bytes: skip the encoding when that
  // bound already fits.
  if (message.length * 3 <= rules.maxMessageBytes) return message.length;
  return encoder.encode(message).length;
}

// announceInterval is the interval told to clients: the
// ANNOUNCE_INTERVAL_SECONDS variable (wrangler.jsonc "vars", like
// cmd/tracker --interval) or rules.json's default. Trystero re-announces
// every clamp(interval, 10 s, 120 s): a longer interval means fewer
// messages (and billed requests) and slower joins.
export function announceInterval(env) {
  return numberVar(env, "ANNOUNCE_INTERVAL_SECONDS", rules.intervalSeconds, { integer: true, min: 1 });
}

// numberVar reads a numeric variable (wrangler.jsonc "vars" or --var), or
// returns def when it is unset.
function numberVar(env, name, def, { integer = false, min = 0, allowOff = false } = {}) {
  const raw = env?.[name];
  if (raw === undefined || raw === null || raw === "") return def;
  const n = Number(raw);
  if (allowOff && n === -1) return -1;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || (min === 0 && n === 0)) {
    const what = integer ? "a whole number" : "a number";
    const off = allowOff ? ", or -1 for no cap" : "";
    const bound = min > 0 ? `>= ${min}` : "> 0";
    throw new Error(`${name}=${raw} is not ${what} ${bound}${off}: fix it in wrangler.jsonc "vars"`);
  }
  return n;
}

// limits are rules.json's, each overridable by a variable (as cmd/tracker's
// flags override pkg/tracker's defaults).
export function limits(env) {
  const int = { integer: true, min: 1 };
  return {
    interval: announceInterval(env),
    maxOffersPerAnnounce: numberVar(env, "MAX_OFFERS_PER_ANNOUNCE", rules.maxOffersPerAnnounce, int),
    maxSwarmsPerConnection: numberVar(env, "MAX_SWARMS_PER_CONNECTION", rules.maxSwarmsPerConnection, int),
    maxPeersPerSwarm: numberVar(env, "MAX_PEERS_PER_SWARM", rules.maxPeersPerSwarm, int),
    maxConnections: numberVar(env, "MAX_CONNECTIONS", rules.maxConnections, int),
    maxConnectionsPerIp: numberVar(env, "MAX_CONNECTIONS_PER_IP", rules.maxConnectionsPerIp, { ...int, allowOff: true }),
    announceRate: numberVar(env, "ANNOUNCE_RATE", rules.announceRate),
    announceBurst: numberVar(env, "ANNOUNCE_BURST", rules.announceBurst, int),
    memberIdleMs: 1000 * numberVar(env, "MEMBER_IDLE_TIMEOUT_SECONDS", rules.memberIdleTimeoutSeconds),
  };
}

// ipKey is what the per-address cap counts by: the IPv4 address, or the /64
// of an IPv6 address (one host usually holds a whole /64).
export function ipKey(ip) {
  if (typeof ip !== "string" || ip === "") return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(":")) return ip;
  const [head, tail] = ip.split("%")[0].split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(":")}::/64`;
}

function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      "Access-Control-Allow-Origin": "*",
    },
  });
}

function refuse(status, reason) {
  return new Response(`peerset tracker: ${reason}\n`, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Retry-After": "30" },
  });
}

export class Tracker extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.limits = limits(env);
    this.interval = this.limits.interval;
    // connection id → {id, ip, ws, joined: Map(info_hash → peer_id), tokens, refilled, lastLimited}
    this.conns = new Map();
    // info_hash → {peers: Map(peer_id → member), list: [member], seeders}; a
    // Map iterates in insertion order and a re-announce re-inserts, so the
    // first member is the one idle longest.
    this.swarms = new Map();
    this.perIp = new Map(); // ipKey → open connections
    this.peers = 0; // memberships over all swarms
    this.seeders = 0;
    this.storage = { rowsRead: 0, rowsWritten: 0, messages: 0 };
    this.exec(`CREATE TABLE IF NOT EXISTS members (
      info_hash TEXT NOT NULL,
      peer_id TEXT NOT NULL,
      conn TEXT NOT NULL,
      seeding INTEGER NOT NULL,
      PRIMARY KEY (info_hash, peer_id))`);
    this.exec("CREATE INDEX IF NOT EXISTS members_by_conn ON members (conn)");
    this.restore();
  }

  // exec runs one SQL statement and counts the rows it read and wrote
  // (GET /stats/storage), which is what the platform bills.
  exec(query, ...params) {
    const cursor = this.sql.exec(query, ...params);
    const rows = cursor.toArray();
    this.storage.rowsRead += cursor.rowsRead;
    this.storage.rowsWritten += cursor.rowsWritten;
    return rows;
  }

  // restore rebuilds the in-memory state after the object woke from
  // hibernation (or restarted): the sockets the runtime kept, and the
  // memberships of those sockets. Rows of sockets that are gone are dropped.
  restore() {
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment();
      if (att && typeof att.id === "string") this.addConn(att.id, typeof att.ip === "string" ? att.ip : "unknown", ws);
    }
    const stale = new Set();
    const now = Date.now();
    for (const row of this.exec("SELECT info_hash, peer_id, conn, seeding FROM members")) {
      const conn = this.conns.get(row.conn);
      if (!conn) {
        stale.add(row.conn);
        continue;
      }
      conn.joined.set(row.info_hash, row.peer_id);
      const m = this.addMember(this.swarmOf(row.info_hash, true), row.peer_id, conn, now);
      this.setSeeding(this.swarms.get(row.info_hash), m, row.seeding === 1);
    }
    for (const id of stale) this.exec("DELETE FROM members WHERE conn = ?", id);
  }

  addConn(id, ip, ws) {
    const conn = { id, ip, ws, joined: new Map(), tokens: this.limits.announceBurst, refilled: Date.now(), lastLimited: 0 };
    this.conns.set(id, conn);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    return conn;
  }

  swarmOf(infoHash, create) {
    let sw = this.swarms.get(infoHash);
    if (!sw && create) {
      sw = { peers: new Map(), list: [], seeders: 0 };
      this.swarms.set(infoHash, sw);
    }
    return sw;
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade")?.toLowerCase() === "websocket") {
      // CF-Connecting-IP is set by Cloudflare (and by wrangler dev); a
      // client cannot forge it there.
      const ip = ipKey(request.headers.get("CF-Connecting-IP"));
      const { maxConnections, maxConnectionsPerIp } = this.limits;
      if (this.conns.size >= maxConnections) {
        return refuse(503, `the tracker is full (${maxConnections} connections): try again later`);
      }
      if (maxConnectionsPerIp > 0 && (this.perIp.get(ip) ?? 0) >= maxConnectionsPerIp) {
        return refuse(429, `too many connections from your address (${maxConnectionsPerIp}): close some before opening more`);
      }
      const [client, server] = Object.values(new WebSocketPair());
      const id = crypto.randomUUID();
      this.ctx.acceptWebSocket(server);
      server.serializeAttachment({ id, ip });
      this.addConn(id, ip, server);
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname === "/stats") return json(this.stats());
    if (url.pathname === "/stats/storage") return json(this.storage);
    return json({ "failure reason": "the tracker object serves WebSockets, /stats and /stats/storage only" }, 404);
  }

  // stats has the shape of pkg/tracker's Stats; it costs O(1).
  stats() {
    return { connections: this.ctx.getWebSockets().length, swarms: this.swarms.size, peers: this.peers, seeders: this.seeders };
  }

  connOf(ws) {
    const att = ws.deserializeAttachment();
    let conn = att && this.conns.get(att.id);
    if (!conn) {
      // A socket accepted before a restart that lost its attachment: give
      // it a fresh identity rather than dropping it.
      const id = crypto.randomUUID();
      const ip = typeof att?.ip === "string" ? att.ip : "unknown";
      ws.serializeAttachment({ id, ip });
      conn = this.addConn(id, ip, ws);
    }
    return conn;
  }

  // allow takes one token of the connection's bucket (pkg/tracker's
  // Server.allow). Without one, the message is dropped and the client hears
  // about it at most once per second.
  allow(conn) {
    const now = Date.now();
    const { announceRate, announceBurst } = this.limits;
    if (now > conn.refilled) {
      conn.tokens = Math.min(announceBurst, conn.tokens + ((now - conn.refilled) / 1000) * announceRate);
      conn.refilled = now;
    }
    if (conn.tokens >= 1) {
      conn.tokens--;
      return true;
    }
    if (now - conn.lastLimited >= 1000) {
      conn.lastLimited = now;
      this.send(conn, { "failure reason": reasons.rateLimited });
    }
    return false;
  }

  async webSocketMessage(ws, message) {
    const conn = this.connOf(ws);
    this.storage.messages++;
    const size = messageBytes(message);
    if (size > rules.hardMessageBytes) {
      this.closeConn(conn, 1009, "message too big");
      return;
    }
    if (!this.allow(conn)) return;
    if (size > rules.maxMessageBytes) {
      this.send(conn, { "failure reason": reasons.messageTooLarge });
      return;
    }
    const text = typeof message === "string" ? message : decoder.decode(message);
    let req;
    try {
      req = decodeAnnounce(text);
    } catch (err) {
      if (!(err instanceof AnnounceError)) throw err;
      this.send(conn, { "failure reason": err.message });
      return;
    }
    this.handleAnnounce(conn, req);
  }

  async webSocketClose(ws) {
    const conn = this.connOf(ws);
    this.removeConn(conn);
    try {
      ws.close(1000, "bye"); // complete the closing handshake
    } catch {
      // already closed
    }
  }

  async webSocketError(ws) {
    this.removeConn(this.connOf(ws));
  }

  // handleAnnounce is pkg/tracker's handleMessage: forwarded offers are sent
  // before the sender's reply.
  handleAnnounce(conn, req) {
    if (req.offers.length > this.limits.maxOffersPerAnnounce) {
      this.sendAnnounceFailure(conn, req.infoHash, reasons.tooManyOffers);
      return;
    }
    const joinedAs = conn.joined.get(req.infoHash);
    if (joinedAs !== undefined && joinedAs !== req.peerId) {
      this.sendAnnounceFailure(conn, req.infoHash, reasons.peerIdMismatch);
      return;
    }
    if (req.event === "stopped") {
      this.leave(conn, req.infoHash);
      if (req.answer === null) this.reply(conn, req.infoHash);
      return;
    }
    const refused = this.join(conn, req);
    if (refused) {
      this.sendAnnounceFailure(conn, req.infoHash, refused);
      return;
    }

    if (req.offers.length > 0) {
      const targets = this.randomOthers(req.infoHash, req.peerId, req.offers.length);
      targets.forEach((target, i) => {
        const o = req.offers[i];
        this.send(target, {
          action: "announce",
          offer: { type: o.offer.type, sdp: o.offer.sdp },
          offer_id: o.offerId,
          peer_id: req.peerId,
          info_hash: req.infoHash,
        });
      });
    }

    if (req.answer !== null) {
      // No reply to an answer; an unknown to_peer_id, or an answer without
      // type and sdp (which pkg/tracker fails to re-encode), is dropped.
      const to = this.swarms.get(req.infoHash)?.peers.get(req.toPeerId);
      if (to && req.answer.type !== "" && req.answer.sdp !== "") {
        this.send(to.conn, {
          action: "announce",
          answer: { type: req.answer.type, sdp: req.answer.sdp },
          offer_id: req.offerId,
          peer_id: req.peerId,
          info_hash: req.infoHash,
        });
      }
      return;
    }
    this.reply(conn, req.infoHash);
  }

  // join adds or refreshes the membership (pkg/tracker's joinLocked); it
  // returns a failure reason when a rule or limit forbids it. A peer_id
  // held by another open connection is refused. Only a new membership
  // writes a row: a re-announce, or a flip of the seeding flag, changes
  // memory only.
  join(conn, req) {
    const now = Date.now();
    let sw = this.swarms.get(req.infoHash);
    if (sw) this.expireIdle(req.infoHash, sw, now);
    sw = this.swarmOf(req.infoHash, true);
    let m = sw.peers.get(req.peerId);
    if (m && m.conn !== conn) {
      this.dropIfEmpty(req.infoHash, sw);
      return reasons.peerIdTaken;
    }
    if (!m) {
      let refused = "";
      if (conn.joined.size >= this.limits.maxSwarmsPerConnection) refused = reasons.tooManySwarms;
      else if (sw.peers.size >= this.limits.maxPeersPerSwarm) refused = reasons.swarmFull;
      if (refused) {
        this.dropIfEmpty(req.infoHash, sw);
        return refused;
      }
      m = this.addMember(sw, req.peerId, conn, now);
      conn.joined.set(req.infoHash, req.peerId);
      this.exec(
        "INSERT OR REPLACE INTO members (info_hash, peer_id, conn, seeding) VALUES (?, ?, ?, ?)",
        req.infoHash, req.peerId, conn.id, req.seeding ? 1 : 0,
      );
    } else {
      // Re-insert: the Map's first member stays the one idle longest.
      sw.peers.delete(req.peerId);
      sw.peers.set(req.peerId, m);
      m.lastSeen = now;
    }
    this.setSeeding(sw, m, req.seeding);
    return "";
  }

  addMember(sw, peerId, conn, now) {
    const m = { peerId, conn, seeding: false, lastSeen: now, index: sw.list.length };
    sw.peers.set(peerId, m);
    sw.list.push(m);
    this.peers++;
    return m;
  }

  setSeeding(sw, m, seeding) {
    if (m.seeding === seeding) return;
    m.seeding = seeding;
    const d = seeding ? 1 : -1;
    sw.seeders += d;
    this.seeders += d;
  }

  // expireIdle drops the members whose last announce is older than
  // memberIdleMs, oldest first.
  expireIdle(infoHash, sw, now) {
    for (const m of sw.peers.values()) {
      if (now - m.lastSeen < this.limits.memberIdleMs) return;
      m.conn.joined.delete(infoHash);
      this.removeMember(infoHash, sw, m);
    }
  }

  removeMember(infoHash, sw, m) {
    sw.peers.delete(m.peerId);
    const last = sw.list.pop();
    if (last !== m) {
      sw.list[m.index] = last;
      last.index = m.index;
    }
    this.peers--;
    if (m.seeding) {
      sw.seeders--;
      this.seeders--;
    }
    this.exec("DELETE FROM members WHERE info_hash = ? AND peer_id = ? AND conn = ?", infoHash, m.peerId, m.conn.id);
    this.dropIfEmpty(infoHash, sw);
  }

  dropIfEmpty(infoHash, sw) {
    if (sw.peers.size === 0) this.swarms.delete(infoHash);
  }

  leave(conn, infoHash) {
    const peerId = conn.joined.get(infoHash);
    if (peerId === undefined) return;
    conn.joined.delete(infoHash);
    const sw = this.swarms.get(infoHash);
    const m = sw?.peers.get(peerId);
    if (m && m.conn === conn) this.removeMember(infoHash, sw, m);
  }

  removeConn(conn) {
    if (!this.conns.has(conn.id)) return;
    for (const infoHash of [...conn.joined.keys()]) this.leave(conn, infoHash);
    this.conns.delete(conn.id);
    const n = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (n > 0) this.perIp.set(conn.ip, n);
    else this.perIp.delete(conn.ip);
  }

  closeConn(conn, code, reason) {
    this.removeConn(conn);
    try {
      conn.ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  reply(conn, infoHash) {
    const sw = this.swarms.get(infoHash);
    const complete = sw?.seeders ?? 0;
    const incomplete = (sw?.peers.size ?? 0) - complete;
    this.send(conn, { complete, incomplete, action: "announce", interval: this.interval, info_hash: infoHash });
  }

  sendAnnounceFailure(conn, infoHash, reason) {
    this.send(conn, { action: "announce", "failure reason": reason, info_hash: infoHash });
  }

  // send writes one JSON message; a socket that cannot take it is dropped.
  send(conn, message) {
    try {
      conn.ws.send(JSON.stringify(message));
    } catch {
      this.removeConn(conn);
    }
  }

  // randomOthers picks up to n distinct random connections of the swarm,
  // never the sender's peer_id (pkg/tracker's randomOthersLocked): a
  // shuffled copy for a small swarm, random draws for a large one.
  randomOthers(infoHash, senderId, n) {
    const sw = this.swarms.get(infoHash);
    if (!sw) return [];
    const others = sw.list.length - (sw.peers.has(senderId) ? 1 : 0);
    n = Math.min(n, others);
    if (n <= 0) return [];
    if (others <= 4 * n) {
      const pool = sw.list.filter((m) => m.peerId !== senderId);
      for (let i = 0; i < n; i++) {
        const j = i + Math.floor(Math.random() * (pool.length - i));
        [pool[i], pool[j]] = [pool[j], pool[i]];
      }
      return pool.slice(0, n).map((m) => m.conn);
    }
    const picked = new Set();
    const out = [];
    while (out.length < n) {
      const i = Math.floor(Math.random() * sw.list.length);
      const m = sw.list[i];
      if (picked.has(i) || m.peerId === senderId) continue;
      picked.add(i);
      out.push(m.conn);
    }
    return out;
  }
}
