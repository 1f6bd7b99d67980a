// The Tracker Durable Object: the WebSockets of the tracker and the swarms
// (info_hash → peers) they announced to. It follows pkg/tracker's rules
// (server.go): offers go to distinct random other peers of the swarm, never
// back to the sender; an answer goes to to_peer_id only and gets no reply;
// other announces get {complete, incomplete, action, interval, info_hash};
// a peer leaves its swarms when its socket closes; limits and failure
// reasons come from rules.json.
//
// It uses the WebSocket Hibernation API: the runtime keeps the sockets
// while the object sleeps. The swarm memberships live in memory and, so
// that they survive a hibernation, in the object's SQLite storage (one row
// per (info_hash, peer_id), written only when a membership starts, moves,
// changes its seeding flag or ends). Each socket's attachment holds its
// connection id, which ties it back to its rows.

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
  const raw = env?.ANNOUNCE_INTERVAL_SECONDS;
  if (raw === undefined || raw === null || raw === "") return rules.intervalSeconds;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`ANNOUNCE_INTERVAL_SECONDS=${raw} is not a whole number of seconds >= 1: fix it in wrangler.jsonc "vars"`);
  }
  return n;
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

export class Tracker extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.interval = announceInterval(env);
    this.conns = new Map(); // connection id → {id, ws, joined: Map(info_hash → peer_id)}
    this.swarms = new Map(); // info_hash → Map(peer_id → {conn, seeding})
    this.sql.exec(`CREATE TABLE IF NOT EXISTS members (
      info_hash TEXT NOT NULL,
      peer_id TEXT NOT NULL,
      conn TEXT NOT NULL,
      seeding INTEGER NOT NULL,
      PRIMARY KEY (info_hash, peer_id))`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS members_by_conn ON members (conn)");
    this.restore();
  }

  // restore rebuilds the in-memory state after the object woke from
  // hibernation (or restarted): the sockets the runtime kept, and the
  // memberships of those sockets. Rows of sockets that are gone are dropped.
  restore() {
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment();
      if (att && typeof att.id === "string") {
        this.conns.set(att.id, { id: att.id, ws, joined: new Map() });
      }
    }
    const stale = new Set();
    for (const row of this.sql.exec("SELECT info_hash, peer_id, conn, seeding FROM members")) {
      const conn = this.conns.get(row.conn);
      if (!conn) {
        stale.add(row.conn);
        continue;
      }
      conn.joined.set(row.info_hash, row.peer_id);
      this.swarmOf(row.info_hash, true).set(row.peer_id, { conn, seeding: row.seeding === 1 });
    }
    for (const id of stale) this.sql.exec("DELETE FROM members WHERE conn = ?", id);
  }

  swarmOf(infoHash, create) {
    let sw = this.swarms.get(infoHash);
    if (!sw && create) {
      sw = new Map();
      this.swarms.set(infoHash, sw);
    }
    return sw;
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade")?.toLowerCase() === "websocket") {
      const [client, server] = Object.values(new WebSocketPair());
      const id = crypto.randomUUID();
      this.ctx.acceptWebSocket(server);
      server.serializeAttachment({ id });
      this.conns.set(id, { id, ws: server, joined: new Map() });
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname === "/stats") return json(this.stats());
    return json({ "failure reason": "the tracker object serves WebSockets and /stats only" }, 404);
  }

  // stats has the shape of pkg/tracker's Stats.
  stats() {
    const st = { connections: this.ctx.getWebSockets().length, swarms: this.swarms.size, peers: 0, seeders: 0 };
    for (const sw of this.swarms.values()) {
      st.peers += sw.size;
      for (const m of sw.values()) if (m.seeding) st.seeders++;
    }
    return st;
  }

  connOf(ws) {
    const att = ws.deserializeAttachment();
    let conn = att && this.conns.get(att.id);
    if (!conn) {
      // A socket accepted before a restart that lost its attachment: give
      // it a fresh identity rather than dropping it.
      const id = crypto.randomUUID();
      ws.serializeAttachment({ id });
      conn = { id, ws, joined: new Map() };
      this.conns.set(id, conn);
    }
    return conn;
  }

  async webSocketMessage(ws, message) {
    const conn = this.connOf(ws);
    const size = messageBytes(message);
    if (size > rules.hardMessageBytes) {
      this.closeConn(conn, 1009, "message too big");
      return;
    }
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
    if (req.offers.length > rules.maxOffersPerAnnounce) {
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
      const to = this.swarms.get(req.infoHash)?.get(req.toPeerId);
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

  // join adds or refreshes the membership; it returns a failure reason when
  // a limit forbids it. A peer_id held by another connection moves here.
  join(conn, req) {
    const already = conn.joined.has(req.infoHash);
    if (!already && conn.joined.size >= rules.maxSwarmsPerConnection) return reasons.tooManySwarms;
    const sw = this.swarmOf(req.infoHash, false);
    let m = sw?.get(req.peerId);
    if (!m && sw && sw.size >= rules.maxPeersPerSwarm) return reasons.swarmFull;
    if (m && m.conn === conn && m.seeding === req.seeding) return ""; // nothing changed
    if (m && m.conn !== conn) m.conn.joined.delete(req.infoHash);
    m = { conn, seeding: req.seeding };
    this.swarmOf(req.infoHash, true).set(req.peerId, m);
    conn.joined.set(req.infoHash, req.peerId);
    this.sql.exec(
      "INSERT OR REPLACE INTO members (info_hash, peer_id, conn, seeding) VALUES (?, ?, ?, ?)",
      req.infoHash, req.peerId, conn.id, req.seeding ? 1 : 0,
    );
    return "";
  }

  leave(conn, infoHash) {
    const peerId = conn.joined.get(infoHash);
    if (peerId === undefined) return;
    conn.joined.delete(infoHash);
    const sw = this.swarms.get(infoHash);
    if (!sw) return;
    if (sw.get(peerId)?.conn === conn) {
      sw.delete(peerId);
      this.sql.exec("DELETE FROM members WHERE info_hash = ? AND peer_id = ? AND conn = ?", infoHash, peerId, conn.id);
    }
    if (sw.size === 0) this.swarms.delete(infoHash);
  }

  removeConn(conn) {
    if (!this.conns.has(conn.id)) return;
    for (const infoHash of [...conn.joined.keys()]) this.leave(conn, infoHash);
    this.sql.exec("DELETE FROM members WHERE conn = ?", conn.id);
    this.conns.delete(conn.id);
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
    let complete = 0;
    let incomplete = 0;
    for (const m of this.swarms.get(infoHash)?.values() ?? []) {
      if (m.seeding) complete++;
      else incomplete++;
    }
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
  // never the sender's peer_id (a partial Fisher-Yates shuffle).
  randomOthers(infoHash, senderId, n) {
    const others = [];
    for (const [id, m] of this.swarms.get(infoHash) ?? []) {
      if (id !== senderId) others.push(m.conn);
    }
    n = Math.min(n, others.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(Math.random() * (others.length - i));
      [others[i], others[j]] = [others[j], others[i]];
    }
    return others.slice(0, n);
  }
}
