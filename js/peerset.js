// peerset: a browser-first peer-to-peer record database. This ES module is
// the thin JavaScript side of the WebAssembly build (cmd/wasm): the API
// described in peerset.d.ts.
//
// The engine (peerset.wasm) runs in a dedicated Worker, started from
// peerset.worker.js next to this file: it owns IndexedDB, the tracker
// WebSockets and the whole database, so the page's main thread stays free.
// The page keeps only what must live on it: RTCPeerConnection exists only
// on Window, so this module creates each peer connection when the engine
// asks for one (offer and answer are relayed as small messages; signalling
// is non-trickle) and transfers its RTCDataChannel to the worker — or,
// where a browser cannot transfer one, forwards its bytes over a
// MessagePort. initialize({ worker: false }) runs the engine on the page
// instead.
//
// The test hooks are not here: testing.js (`peerset/testing`) reaches them
// through the TESTING symbol below.

// scripts/build-wasm.sh writes the repository's VERSION file in here; 'dev'
// is an unbuilt copy.
const VERSION = 'dev';
export const version = VERSION;

// TESTING keys what testing.js (`peerset/testing`) needs and the API does
// not offer: DB.prototype[TESTING](method, args) calls the engine's test
// hooks, open[TESTING] holds internals for unit tests. Not part of the API.
const TESTING = Symbol.for('peerset.testing');

const EVENT_TYPES = ['record', 'peer', 'sync', 'reject', 'blob'];

// Forwarded channels (no transfer): bytes handed to the worker and not yet
// acknowledged are bounded, in bytes and in time, like every queue a peer
// can fill. A worker that falls this far behind loses the channel (the
// engine drops the peer, which may come back).
const FORWARD_MAX_BYTES = 4 << 20;
const FORWARD_MAX_STALL = 30_000;

let enginePromise = null;

/**
 * Loads and starts the engine. Optional: open() and generateKey() call it
 * with the defaults (peerset.worker.js and peerset.wasm next to this file).
 */
export function initialize(opts = {}) {
  if (!enginePromise) {
    enginePromise = startEngine(opts ?? {});
    enginePromise.catch(() => { enginePromise = null; }); // a later call may retry
  }
  return enginePromise.then(() => undefined);
}

function peersetError(message, code) {
  const err = new Error(`peerset: ${message}`);
  if (code) err.code = code;
  return err;
}

// fromInfo rebuilds an Error the engine sent ({ message, code, rule, reason }).
function fromInfo(info) {
  const err = new Error(info?.message ?? 'peerset: unknown error');
  for (const k of ['code', 'rule', 'reason']) if (info?.[k] !== undefined) err[k] = info[k];
  return err;
}

function resolveURL(url, name) {
  const base = globalThis.location?.href;
  try {
    return new URL(url, base).href;
  } catch {
    throw new TypeError(`peerset.initialize(): ${name} ${JSON.stringify(String(url))} is not a URL`);
  }
}

async function startEngine(opts) {
  const wasmURL = resolveURL(opts.wasmURL ?? new URL('./peerset.wasm', import.meta.url), 'wasmURL');
  const workerURL = resolveURL(opts.workerURL ?? new URL('./peerset.worker.js', import.meta.url), 'workerURL');
  const useWorker = opts.worker !== false && typeof Worker === 'function';
  const rtc = new RTCService(opts.transferChannels);
  let port;
  let worker = null;
  if (useWorker) {
    worker = await newWorker(workerURL);
    port = worker;
  } else {
    await loadScript(workerURL);
    const channel = new MessageChannel();
    globalThis.__peersetEngine.start(channel.port2, rtc);
    port = channel.port1;
  }
  const engine = new Engine(port, worker, rtc, workerURL);
  await engine.start(wasmURL);
  return engine;
}

const workerHowTo = 'serve peerset.worker.js next to peerset.js (or tell peerset where it is: peerset.initialize({ workerURL })); with a Content-Security-Policy, allow it with worker-src (worker-src \'self\', or blob: when peerset.js comes from another origin); or run the engine on the page: peerset.initialize({ worker: false })';

// newWorker starts the worker script. A worker must come from the page's
// origin: a script of another origin (a CDN) is fetched and started from a
// blob: URL.
async function newWorker(url) {
  const sameOrigin = !globalThis.location || new URL(url).origin === globalThis.location.origin;
  if (sameOrigin) {
    try {
      return new Worker(url, { name: 'peerset' });
    } catch (err) {
      throw peersetError(`could not start the engine's worker ${url} (${err.message}): ${workerHowTo}`, 'worker-failed');
    }
  }
  let text;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (err) {
    throw peersetError(`could not fetch the engine's worker script ${url} (${err.message}): ${workerHowTo}`, 'worker-failed');
  }
  try {
    return new Worker(URL.createObjectURL(new Blob([text], { type: 'text/javascript' })), { name: 'peerset' });
  } catch (err) {
    throw peersetError(`could not start the engine's worker from ${url} (${err.message}): ${workerHowTo}`, 'worker-failed');
  }
}

// loadScript runs the engine script on the page (worker: false).
function loadScript(url) {
  if (globalThis.__peersetEngine) return Promise.resolve();
  if (typeof document === 'undefined') {
    return Promise.reject(peersetError('initialize({ worker: false }) needs a page (document) to load peerset.worker.js into', 'unsupported'));
  }
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = url;
    s.onload = () => (globalThis.__peersetEngine ? resolve() : reject(peersetError(`${url} is not peerset's engine script: rebuild it with scripts/build-wasm.sh`, 'worker-failed')));
    s.onerror = () => reject(peersetError(`could not load the engine script ${url}: ${workerHowTo.replace('; or run the engine on the page: peerset.initialize({ worker: false })', '')}`, 'worker-failed'));
    document.head.append(s);
  });
}

// Engine is the page's end of the engine: calls, events and the WebRTC
// requests of the Go transport.
class Engine {
  pending = new Map(); // call id → { resolve, reject }
  nextCall = 0;
  eventsInFlightHigh = 0; // the most events the engine had in flight to this page
  hubs = new Map(); // database handle → EventHub
  failure = null;
  ready = false;
  callbacks = new Map(); // open()'s id → { rules, signer } on this page
  nextCallbacks = 0;

  constructor(port, worker, rtc, workerURL) {
    this.port = port;
    this.workerURL = workerURL;
    this.worker = worker;
    this.rtc = rtc;
    rtc.post = (m, transfer) => this.post(m, transfer);
  }

  post(m, transfer) {
    this.port.postMessage(m, transfer ?? []);
  }

  start(wasmURL) {
    return new Promise((resolve, reject) => {
      this.onReady = resolve;
      this.onFatal = reject;
      this.port.onmessage = (e) => this.receive(e.data);
      if (this.worker) {
        this.worker.onerror = (e) => {
          e.preventDefault?.();
          if (this.ready) {
            // The Go program reports its own end ('fatal'); an exception in
            // the worker's JavaScript after it started loses one event, not
            // the engine.
            console.error(`peerset: an error in the engine's worker (the engine keeps running): ${e.message}`);
            return;
          }
          this.fail(peersetError(`the engine's worker ${this.workerURL} failed (${e.message || 'it could not be loaded: missing, not JavaScript, or refused by the page\'s Content-Security-Policy'}): ${workerHowTo}`, 'worker-failed'));
        };
        this.worker.onmessageerror = () => this.fail(peersetError('the engine sent a message the page could not read', 'internal'));
      }
      this.post({ t: 'init', wasmURL, rtc: this.rtc.available });
    });
  }

  receive(m) {
    switch (m.t) {
      case 'result': {
        const w = this.pending.get(m.id);
        if (!w) return;
        this.pending.delete(m.id);
        if (m.ok) w.resolve(m.v);
        else w.reject(fromInfo(m.e));
        return;
      }
      case 'ev':
        // Acknowledged once dispatched: the engine keeps at most a few
        // events in flight (js/engine.js, eventFlow).
        this.eventsInFlightHigh = Math.max(this.eventsInFlightHigh, m.q ?? 0);
        try {
          this.hubs.get(m.h)?.emit(m.type, m.json);
        } finally {
          if (!this.failure) this.post({ t: 'ev-ack' });
        }
        return;
      case 'rtc':
        this.rtc.handle(m);
        return;
      case 'page':
        this.answerPage(m);
        return;
      case 'ready':
        this.ready = true;
        this.onReady?.();
        this.onReady = null;
        return;
      case 'fatal':
        this.fail(fromInfo(m.error));
    }
  }

  // fail ends the engine: every pending call rejects with err, every peer
  // connection closes, and a later initialize() starts a new engine.
  fail(err) {
    if (this.failure) return;
    this.failure = err;
    if (this.onFatal) {
      this.onFatal(err);
      this.onFatal = this.onReady = null;
    }
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
    this.rtc.closeAll();
    this.worker?.terminate();
    if (enginePromise) enginePromise = null;
    console.error(err);
  }

  // addCallbacks keeps an open()'s custom rules and signer on the page;
  // answerPage runs the engine's requests to them.
  addCallbacks(callbacks) {
    const cb = ++this.nextCallbacks;
    this.callbacks.set(cb, callbacks);
    return cb;
  }

  answerPage(m) {
    const reply = (ok, v) => { if (!this.failure) this.post({ t: 'page-r', seq: m.seq, ok, [ok ? 'v' : 'e']: v }); };
    runPageCall(this.callbacks.get(m.cb), m.op, m.a).then(
      (v) => reply(true, v),
      (err) => reply(false, String(err?.message ?? err) || 'failed'),
    );
  }

  call(h, m, a = []) {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextCall;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ t: 'call', id, h, m, a });
    });
  }

  listen(h, type, on) {
    if (!this.failure) this.post({ t: 'listen', h, type, on });
  }

  // describe says where the engine runs and how data channels reached it.
  describe() {
    const { transferred, forwarded, onPage } = this.rtc.counts;
    return { thread: this.worker ? 'worker' : 'page', dataChannels: { transferred, forwarded, onPage }, eventsInFlightHigh: this.eventsInFlightHigh };
  }
}

async function engine() {
  return initialize().then(() => enginePromise);
}

/** Generates a new key pair: { npub, nsec }. Keep the nsec secret. */
export async function generateKey() {
  return JSON.parse(await (await engine()).call(0, 'generateKey'));
}

/** Opens (and, unless offline, joins) a room. */
export async function open(opts) {
  if (!opts || typeof opts !== 'object' || typeof opts.room !== 'string' || opts.room.trim() === '') {
    throw new TypeError('peerset.open() needs a room name: peerset.open({ room: \'my-room\' })');
  }
  const { sent, callbacks } = openOptions(opts);
  const e = await engine();
  if (!opts.offline && !e.rtc.available) {
    throw peersetError('this browser offers no WebRTC (RTCPeerConnection), so peerset cannot reach peers: use a current browser with WebRTC enabled, or open({ offline: true }) to work locally', 'unsupported');
  }
  const cb = callbacks ? e.addCallbacks(callbacks) : 0;
  let opened;
  try {
    opened = await e.call(0, 'open', [JSON.stringify(sent), cb]);
  } catch (err) {
    e.callbacks.delete(cb);
    throw err;
  }
  const { h, info } = opened;
  const events = new EventHub(e, h);
  e.hubs.set(h, events);
  if ((opts.storage ?? 'indexeddb') === 'indexeddb') askPersistence();
  return new DB(e, h, JSON.parse(info), events, cb);
}

// openOptions checks open()'s options and returns what is sent to the engine
// (JSON-able) and the callbacks that stay on the page (null: none).
function openOptions(opts) {
  const out = pageCallbacks(opts);
  sentMaxPeers(opts, out.sent);
  return out;
}

// --- the page's callbacks: custom moderation rules and a NIP-07 signer.
// Functions cannot cross to the engine's worker: they stay here, the
// engine gets the rules' names (and signer: true), and asks this page to
// judge a batch of records or to sign an event (Engine.answerPage).

// pageCallbacks checks open()'s rules and signer and returns the options
// to send to the engine, and the callbacks that stay on the page.
function pageCallbacks(opts) {
  const sent = { ...opts };
  let rules = null;
  let signer = null;
  const mod = opts.moderation;
  if (mod && typeof mod === 'object' && mod.rules !== undefined) {
    if (!Array.isArray(mod.rules)) throw peersetError('moderation.rules must be an array of { name, check }', 'invalid');
    rules = mod.rules.map((r, i) => {
      if (!r || typeof r !== 'object' || typeof r.check !== 'function') {
        throw peersetError(`moderation.rules[${i}] needs a check function: { name: 'no-shouting', check: (record) => true | 'reason' }`, 'invalid');
      }
      if (typeof r.name !== 'string') throw peersetError(`moderation.rules[${i}] needs a name (a string)`, 'invalid');
      return { name: r.name, check: r.check };
    });
    sent.moderation = { ...mod, rules: rules.map((r) => ({ name: r.name })) };
    if (rules.length === 0) rules = null;
  }
  if (opts.signer !== undefined && opts.signer !== null && opts.signer !== false) {
    signer = opts.signer;
    if (typeof signer !== 'object' || typeof signer.getPublicKey !== 'function' || typeof signer.signEvent !== 'function') {
      throw peersetError('open({ signer }) needs a NIP-07 signer: an object with getPublicKey() and signEvent(event), such as window.nostr', 'invalid');
    }
  }
  sent.signer = signer ? true : undefined;
  return { sent, callbacks: rules || signer ? { rules, signer } : null };
}

// sentMaxPeers makes open()'s one maxPeers: the top-level option bounds the
// open connections and the authenticated sessions. session.maxPeers is its
// deprecated alias, taken when alone; the two with different values are an
// error (before this, session.maxPeers bounded the sessions only).
function sentMaxPeers(opts, sent) {
  const session = opts.session;
  if (!session || typeof session !== 'object' || session.maxPeers === undefined) return;
  const { maxPeers: alias, ...rest } = session;
  sent.session = rest;
  if (opts.maxPeers !== undefined && opts.maxPeers !== alias) {
    throw peersetError(`open() was given maxPeers ${JSON.stringify(opts.maxPeers)} and session.maxPeers ${JSON.stringify(alias)}: set only maxPeers (session.maxPeers is its old name)`, 'invalid');
  }
  sent.maxPeers = alias;
}

// judgeRecords runs the custom rules on a batch of records (JSON from the
// engine) and answers, for each record, null (accepted by every rule) or
// [index of the rule that refused it, reason]. A rule returns true to
// accept, or a reason (a string) to refuse; a rule that throws refuses
// with the error's message; anything else refuses.
async function judgeRecords(rules, json) {
  const records = JSON.parse(json);
  const out = new Array(records.length).fill(null);
  for (const [k, r] of records.entries()) {
    const rec = Object.freeze(toRecord(r));
    for (const [i, rule] of rules.entries()) {
      let v;
      try {
        v = rule.check(rec);
        if (v && typeof v.then === 'function') v = await v;
      } catch (err) {
        out[k] = [i, String(err?.message ?? err) || 'the rule threw'];
        break;
      }
      if (v === true) continue;
      out[k] = [i, typeof v === 'string' && v !== '' ? v : `refused (the rule returned ${v === false ? 'false' : typeof v}; return true to accept or a reason to refuse)`];
      break;
    }
  }
  return JSON.stringify(out);
}

// runPageCall does what the engine asked of the page's callbacks.
async function runPageCall(callbacks, op, arg) {
  if (!callbacks) throw new Error('this database is closed');
  switch (op) {
    case 'judge':
      if (!callbacks.rules) throw new Error('no custom rules');
      return judgeRecords(callbacks.rules, arg);
    case 'publicKey': {
      const key = await callbacks.signer.getPublicKey();
      return JSON.stringify(String(key));
    }
    case 'signEvent': {
      const signed = await callbacks.signer.signEvent(JSON.parse(arg));
      if (!signed || typeof signed !== 'object') throw new Error('signEvent() returned no event');
      return JSON.stringify(signed);
    }
  }
  throw new Error(`unknown page call ${op}`);
}

// askPersistence asks once per page that the site's storage not be evicted
// under pressure (navigator.storage.persist exists on the page only).
let persistAsked = false;
function askPersistence() {
  if (persistAsked) return;
  persistAsked = true;
  globalThis.navigator?.storage?.persist?.().catch(() => {});
}

// EventHub dispatches the engine's events (emit(type, jsonArray)) to
// listeners: each arrives in a task of its own (a message from the
// engine), and an exception in one listener reaches neither the engine nor
// the other listeners. The engine sends batches ('record' during a sync,
// 'reject' at most every 100 ms); each listener still gets one call per
// item. 'reject' items are bounded on the engine's side: past 10 per peer
// and second they arrive as summaries ({ suppressed: n, ... }). 'record'
// items are bounded too: when more than 10,000 changes (or about 8 MiB)
// wait to reach the page, they are dropped and one { overflow: true,
// missed: n } item says so (query again).
class EventHub {
  listeners = new Map(EVENT_TYPES.map((t) => [t, new Set()]));

  constructor(engine, handle) {
    this.engine = engine;
    this.handle = handle;
  }

  emit(type, json) {
    const set = this.listeners.get(type);
    if (!set || set.size === 0) return;
    let items;
    try {
      items = JSON.parse(json);
    } catch (err) {
      console.error('peerset: could not read an event from the engine', err);
      return;
    }
    const listeners = [...set];
    for (const e of items) {
      if (type === 'record') toRecord(e.record);
      for (const cb of listeners) {
        try {
          cb(e);
        } catch (err) {
          reportError(err);
        }
      }
    }
  }

  add(type, cb) {
    const set = this.listeners.get(type);
    if (!set) {
      throw new TypeError(`peerset: unknown event '${type}': listen to one of ${EVENT_TYPES.map((t) => `'${t}'`).join(', ')}`);
    }
    if (typeof cb !== 'function') throw new TypeError(`peerset: db.on('${type}', cb) needs a function`);
    set.add(cb);
    if (set.size === 1) this.engine.listen(this.handle, type, true);
    return () => {
      if (set.delete(cb) && set.size === 0) this.engine.listen(this.handle, type, false);
    };
  }

  clear() {
    for (const set of this.listeners.values()) set.clear();
    this.engine.hubs.delete(this.handle);
  }
}

function reportError(err) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
  else setTimeout(() => { throw err; });
}

/** An open room. Methods return Promises; after close() they reject. */
class DB {
  #engine;
  #h;
  #events;
  #closed = false;

  #cb;

  constructor(engine, h, info, events, cb = 0) {
    this.#engine = engine;
    this.#h = h;
    this.#events = events;
    this.#cb = cb;
    /** True when this node cannot sign: identity 'ephemeral' without nsec or signer. */
    this.readOnly = Boolean(info.readOnly);
    /** This node's public key (npub). */
    this.key = info.key;
    /** The transport peer id while online, else ''. */
    this.peerId = info.peerId;
    this.appId = info.appId;
    this.room = info.room;
    this.roomId = info.roomId;
    this.storage = info.storage;
    this.online = info.online;
    this.databaseName = info.databaseName;
    /**
     * How this node's secret key is kept: 'clear' (readable by any script of
     * this origin), 'encrypted' (passphrase), 'memory', 'external' (nsec),
     * 'signer' (a NIP-07 signer holds it) or 'none' (read-only).
     */
    this.keyStorage = info.keyStorage;
  }

  get closed() { return this.#closed; }

  #call(method, args) {
    if (this.#closed) {
      return Promise.reject(peersetError(`db.${method}() was called after db.close(): open the room again with peerset.open()`, 'closed'));
    }
    return this.#engine.call(this.#h, method, args);
  }

  async put(r) {
    if (this.#closed) return this.#call('put');
    if (!r || typeof r !== 'object') {
      throw new TypeError('peerset: db.put() needs a record object, e.g. db.put({ text: \'hello\' })');
    }
    if (r.file !== undefined && r.file !== null) {
      if (r.data !== undefined) throw new TypeError('peerset: db.put() takes a file or data, not both');
      const { bytes, type } = await fileBytes(r.file);
      const draft = encodeDraft({ ...r, file: undefined });
      return toRecord(JSON.parse(await this.#call('putFile', [JSON.stringify(draft), bytes, String(r.type ?? type ?? '')])));
    }
    return toRecord(JSON.parse(await this.#call('put', [JSON.stringify(encodeDraft(r))])));
  }

  /**
   * The file of the record uuid as a Blob: from this browser's storage, or
   * fetched in chunks from the peers that hold it (each chunk checked
   * against the record's hashes, then kept). Resolves to null when there is
   * no such record; rejects when the record has no file, when no connected
   * peer holds it (code 'unavailable'), or over a limit (err.rule).
   */
  async blob(uuid) {
    const res = await this.#call('blob', [String(uuid)]);
    if (res == null) return null;
    return new Blob([res.bytes], { type: res.type || 'application/octet-stream' });
  }

  async get(uuid) {
    const json = await this.#call('get', [String(uuid)]);
    return json == null ? null : toRecord(JSON.parse(json));
  }

  async delete(uuid) {
    await this.#call('delete', [String(uuid)]);
  }

  async query(q = {}) {
    return JSON.parse(await this.#call('query', [JSON.stringify(q ?? {})])).map(toRecord);
  }

  on(event, cb) {
    if (this.#closed) {
      throw peersetError('db.on() was called after db.close(): open the room again with peerset.open()', 'closed');
    }
    return this.#events.add(event, cb);
  }

  async stats() {
    const st = JSON.parse(await this.#call('stats'));
    st.engine = this.#engine.describe();
    return st;
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.clear();
    try {
      await this.#engine.call(this.#h, 'close');
    } finally {
      this.#engine.callbacks.delete(this.#cb);
    }
  }

  /**
   * The peers known to hold the current version of a record: { count,
   * peers } (npubs of the keys they proved in handshakes).
   */
  async holders(uuid) {
    return JSON.parse(await this.#call('holders', [String(uuid)]));
  }

  /**
   * Verifies, moderates and stores NIP-01 events exactly as if a peer had
   * sent them: the restore path of a backup made with export(). `events` is
   * an array, an iterable or an async iterable of events (objects, or JSON
   * text one event each), or a string of JSON lines (one event per line) or
   * a JSON array. It streams: events go to the engine in chunks of at most
   * IMPORT_CHUNK_EVENTS and IMPORT_CHUNK_BYTES, one chunk at a time while
   * the next is gathered. Resolves to { stored, refused, invalid, byRule }.
   */
  async import(events, opts = {}) {
    if (this.#closed) return this.#call('import');
    const { onProgress, signal } = opts ?? {};
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw peersetError('db.import(events, { onProgress }): onProgress must be a function', 'invalid');
    }
    return importEvents(importSource(events), (chunk) => this.#call('import', [chunk]), onProgress, signal);
  }

  /**
   * Every live record and every kept deletion, as NIP-01 events, oldest
   * first: an async iterable, read from the engine a page at a time
   * (at most EXPORT_PAGE_EVENTS events, about 1 MiB). for await (const e of
   * db.export()) or Array.fromAsync(db.export()).
   */
  export() {
    const call = (cursor) => this.#call('exportPage', [cursor, EXPORT_PAGE_EVENTS]);
    return exportEvents(call);
  }

  /** Not part of the API: the engine's test hooks, for testing.js. */
  [TESTING](method, args) {
    return this.#call(method, args);
  }
}

// db.import() sends chunks of at most this many events and bytes of JSON
// (one event alone may be larger, up to IMPORT_MAX_EVENT_BYTES); db.export()
// asks for pages of at most EXPORT_PAGE_EVENTS events (the engine also
// stops a page at about 1 MiB).
const IMPORT_CHUNK_EVENTS = 1000;
const IMPORT_CHUNK_BYTES = 1 << 20;
const IMPORT_MAX_EVENT_BYTES = 1 << 20;
const EXPORT_PAGE_EVENTS = 500;

const importHowTo = 'db.import() needs NIP-01 events: an array, an iterable or an async iterable of event objects, or a string of JSON lines (one event per line); for one event, db.import([event])';

// importSource checks what db.import() was given and returns an iterable
// (sync or async) of items: event objects or JSON texts.
function importSource(events) {
  if (typeof events === 'string') {
    const text = events.trimStart();
    if (text.startsWith('[')) {
      let list;
      try {
        list = JSON.parse(text);
      } catch (err) {
        throw peersetError(`the text given to db.import() starts like a JSON array but is not one (${err.message}): ${importHowTo}`, 'invalid');
      }
      return list;
    }
    return jsonLines(events);
  }
  if (events != null && typeof events === 'object' &&
      (typeof events[Symbol.asyncIterator] === 'function' || typeof events[Symbol.iterator] === 'function')) {
    return events;
  }
  const what = events === null ? 'null' : typeof events === 'object' ? 'an object that is not iterable' : typeof events;
  throw peersetError(`${importHowTo} (got ${what})`, 'invalid');
}

// jsonLines yields the non-empty lines of text without splitting it all at
// once.
function* jsonLines(text) {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    if (line) yield line;
    start = end + 1;
  }
}

// importEvents feeds source to send (one engine call per chunk of JSON
// lines) with one chunk in flight while the next is gathered, and adds up
// the results. Items that cannot be an event (not an object or text, not
// serialisable, too large) count as invalid here, under the rule 'parse'
// like the engine's own.
async function importEvents(source, send, onProgress, signal) {
  const total = { stored: 0, refused: 0, invalid: 0, byRule: {} };
  const add = (r) => {
    total.stored += r.stored;
    total.refused += r.refused;
    total.invalid += r.invalid;
    for (const [rule, n] of Object.entries(r.byRule ?? {})) total.byRule[rule] = (total.byRule[rule] ?? 0) + n;
  };
  let done = 0;
  let lines = [];
  let bytes = 0;
  let inFlight = null;
  let failure = null;
  const settle = async () => {
    if (inFlight) await inFlight;
    inFlight = null;
    if (failure) throw failure;
  };
  const flush = async () => {
    await settle();
    signal?.throwIfAborted();
    if (lines.length === 0) return;
    const n = lines.length;
    const chunk = lines.join('\n');
    lines = [];
    bytes = 0;
    inFlight = send(chunk).then((json) => {
      add(JSON.parse(json));
      done += n;
      if (onProgress) {
        try {
          onProgress({ done, stored: total.stored, refused: total.refused, invalid: total.invalid });
        } catch (err) {
          reportError(err);
        }
      }
    }, (err) => { failure = err; });
  };
  const take = (item) => {
    let line = null;
    if (typeof item === 'string') {
      line = item.replace(/[\r\n]+/g, ' ').trim(); // a newline never sits inside a JSON string
    } else if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      try {
        line = JSON.stringify(item);
      } catch { /* a cycle, a BigInt: not an event */ }
    }
    if (!line || line.length > IMPORT_MAX_EVENT_BYTES) {
      add({ stored: 0, refused: 0, invalid: 1, byRule: { parse: 1 } });
      done++;
      return false;
    }
    if (lines.length > 0 && (lines.length >= IMPORT_CHUNK_EVENTS || bytes + line.length > IMPORT_CHUNK_BYTES)) return line;
    lines.push(line);
    bytes += line.length + 1;
    return false;
  };
  const put = async (item) => {
    const waiting = take(item);
    if (waiting === false) return;
    await flush();
    lines.push(waiting);
    bytes += waiting.length + 1;
  };
  signal?.throwIfAborted();
  if (typeof source[Symbol.asyncIterator] === 'function') {
    for await (const item of source) await put(item);
  } else {
    for (const item of source) {
      const waiting = take(item);
      if (waiting === false) continue;
      await flush();
      lines.push(waiting);
      bytes += waiting.length + 1;
    }
  }
  await flush();
  await settle();
  return total;
}

// exportEvents pages through the engine's export: the next page is asked
// for while the caller handles the current one (two pages at most in
// memory). Ending the loop early (break, return, throw) stops it.
async function* exportEvents(call) {
  const fetchPage = (cursor) => call(cursor).then((json) => JSON.parse(json));
  let next = fetchPage('');
  next.catch(() => {}); // handled below; not an unhandled rejection meanwhile
  while (next) {
    const page = await next;
    next = page.next ? fetchPage(page.next) : null;
    next?.catch(() => {});
    yield* page.events;
  }
}

function encodeDraft(r) {
  const d = {};
  if (r.text !== undefined && r.text !== null) d.text = String(r.text);
  if (r.link) d.link = String(r.link);
  if (r.geo) d.geo = { lat: Number(r.geo.lat), lon: Number(r.geo.lon) };
  if (r.uuid) d.uuid = String(r.uuid);
  if (r.data !== undefined) {
    const bytes = asBytes(r.data);
    if (bytes) {
      d.dataBase64 = bytesToBase64(bytes);
    } else {
      const json = JSON.stringify(r.data);
      if (json === undefined) throw new TypeError('peerset: record data must be JSON-serialisable or bytes (Uint8Array, ArrayBuffer)');
      d.dataJSON = json;
    }
    if (r.mediaType) d.mediaType = String(r.mediaType);
  }
  return d;
}

// fileBytes reads what put({ file }) was given: a Blob (File), an
// ArrayBuffer or a typed array.
async function fileBytes(file) {
  if (typeof Blob === 'function' && file instanceof Blob) {
    return { bytes: new Uint8Array(await file.arrayBuffer()), type: file.type };
  }
  const bytes = asBytes(file);
  if (!bytes) throw new TypeError('peerset: put({ file }) needs a Blob, File, ArrayBuffer or Uint8Array');
  return { bytes, type: '' };
}

function asBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

function bytesToBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function base64ToBytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function toRecord(r) {
  if (r && r.dataBase64 !== undefined) {
    r.data = base64ToBytes(r.dataBase64);
    delete r.dataBase64;
  }
  return r;
}

// --- WebRTC on the page, for the engine's transport

// RTCService creates the engine's peer connections on this page and hands
// their data channels over: transferred to the worker when the browser can
// (Chromium 130+, Firefox 144+, Safari 15+), else forwarded over a
// MessagePort. With the engine on the page (worker: false), sink receives
// them directly.
class RTCService {
  pcs = new Map(); // engine's id → { pc, channel, abort, shut }
  unborn = new Map(); // engine's id → why its RTCPeerConnection could not be created (until closed)
  counts = { transferred: 0, forwarded: 0, onPage: 0 }; // channels handed to the engine
  post = null; // to the worker (set by Engine)
  sink = null; // the on-page engine's host (engine.js LocalRTCHost)

  constructor(transfer) {
    this.available = typeof RTCPeerConnection === 'function';
    // true or false forces; undefined: transfer where the browser can.
    this.transfer = transfer;
  }

  // handle runs a request of the worker's host.
  handle(m) {
    if (m.op === 'create') {
      try {
        this.create(m.pc, ...m.a);
      } catch (err) {
        // The engine's next request on it fails with this reason (bad ICE
        // servers, the browser's limit of peer connections, ...).
        if (this.unborn.size >= 256) this.unborn.delete(this.unborn.keys().next().value);
        this.unborn.set(m.pc, `could not create the peer connection: ${err?.message ?? err}`);
      }
      return;
    }
    if (m.op === 'close') {
      this.close(m.pc);
      return;
    }
    const reply = (ok, v) => this.post({ t: 'rtc-r', seq: m.seq, ok, [ok ? 'v' : 'e']: v });
    let result;
    try {
      result = this[m.op](m.pc, ...m.a);
    } catch (err) {
      reply(false, String(err?.message ?? err));
      return;
    }
    Promise.resolve(result).then((v) => reply(true, v), (err) => reply(false, String(err?.message ?? err)));
  }

  entry(id) {
    const e = this.pcs.get(id);
    if (!e) throw new Error(this.unborn.get(id) ?? 'peer connection closed');
    return e;
  }

  create(id, iceServers, gatherMs) {
    const pc = new RTCPeerConnection({ iceServers });
    const e = { pc, channel: null, gatherMs };
    this.pcs.set(id, e);
    pc.onconnectionstatechange = () => this.state(id, pc.connectionState);
    pc.ondatachannel = (ev) => {
      // Trystero opens one channel; any other the remote peer opens is
      // closed here, without bothering the engine.
      if (e.channel) {
        ev.channel.close();
        return;
      }
      e.channel = ev.channel;
      this.channel(id, ev.channel);
    };
  }

  async offer(id) {
    const e = this.entry(id);
    const dc = e.pc.createDataChannel('data');
    e.channel = dc;
    this.channel(id, dc); // now: a channel can be transferred only in the task that made it
    await e.pc.setLocalDescription(await e.pc.createOffer());
    return this.localSDP(e);
  }

  async answer(id, sdp) {
    const e = this.entry(id);
    await e.pc.setRemoteDescription({ type: 'offer', sdp });
    await e.pc.setLocalDescription(await e.pc.createAnswer());
    return this.localSDP(e);
  }

  async accept(id, sdp) {
    await this.entry(id).pc.setRemoteDescription({ type: 'answer', sdp });
  }

  // candidate adds a remote ICE candidate trickled through a Nostr relay
  // (RTCIceCandidateInit as JSON, checked by the engine).
  async candidate(id, json) {
    await this.entry(id).pc.addIceCandidate(JSON.parse(json));
  }

  // localSDP waits until ICE gathering is complete (signalling is
  // non-trickle), at most gatherMs, and returns the local description.
  async localSDP(e) {
    const { pc } = e;
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((resolve) => {
        const timer = setTimeout(done, e.gatherMs);
        function done() {
          clearTimeout(timer);
          pc.removeEventListener('icegatheringstatechange', check);
          e.abort = null;
          resolve();
        }
        e.abort = done; // close() ends the wait at once (a closed connection fires no gathering event)
        function check() { if (pc.iceGatheringState === 'complete') done(); }
        pc.addEventListener('icegatheringstatechange', check);
      });
    }
    if (pc.signalingState === 'closed' || !pc.localDescription) throw new Error('peer connection closed');
    return pc.localDescription.sdp;
  }

  close(id) {
    this.unborn.delete(id);
    const e = this.pcs.get(id);
    if (!e) return;
    this.pcs.delete(id);
    e.pc.onconnectionstatechange = e.pc.ondatachannel = null;
    try { e.channel?.close(); } catch { /* transferred: the worker closes it */ }
    e.shut?.(); // a forwarded channel: its port and listeners too
    e.pc.close();
    e.abort?.();
  }

  closeAll() {
    for (const id of [...this.pcs.keys()]) this.close(id);
  }

  state(id, state) {
    if (this.sink) this.sink.state(id, state);
    else this.post({ t: 'rtc-state', pc: id, state });
  }

  // channel hands a data channel to the engine, in the task that created
  // or received it.
  channel(id, dc) {
    if (this.sink) {
      this.counts.onPage++;
      this.sink.channel(id, dc);
      return;
    }
    if (this.transfer !== false) {
      try {
        this.post({ t: 'rtc-channel', pc: id, channel: dc }, [dc]);
        this.counts.transferred++;
        return;
      } catch (err) {
        if (this.transfer === true) throw err;
        this.transfer = false; // this browser cannot: forward from now on
      }
    }
    const { port1, port2 } = new MessageChannel();
    this.post({ t: 'rtc-channel', pc: id, port: port2, state: dc.readyState }, [port2]);
    this.counts.forwarded++;
    const e = this.pcs.get(id);
    const shut = forwardChannel(dc, port1);
    if (e) e.shut = shut;
  }
}

// forwardChannel relays a data channel that stays on the page over port:
// received messages go to the worker as transferred ArrayBuffers (no
// copy), the worker's sends come back the same way. The worker acknowledges
// what it received; past FORWARD_MAX_BYTES unacknowledged, or nothing
// acknowledged for FORWARD_MAX_STALL while bytes are outstanding, the
// channel is closed.
function forwardChannel(dc, port, { maxBytes = FORWARD_MAX_BYTES, maxStall = FORWARD_MAX_STALL } = {}) {
  dc.binaryType = 'arraybuffer';
  let inFlight = 0;
  let ackedAt = Date.now();
  let stallTimer = 0;
  let closed = false;
  const shut = () => {
    if (closed) return;
    closed = true;
    clearTimeout(stallTimer);
    dc.onopen = dc.onclose = dc.onmessage = dc.onbufferedamountlow = null;
    try { dc.close(); } catch { /* closed */ }
    port.postMessage({ k: 'c' });
    port.onmessage = null;
    setTimeout(() => port.close(), 0);
  };
  const armStall = () => {
    clearTimeout(stallTimer);
    stallTimer = inFlight > 0 ? setTimeout(() => { if (inFlight > 0 && Date.now() - ackedAt >= maxStall) shut(); else armStall(); }, maxStall) : 0;
  };
  dc.onopen = () => port.postMessage({ k: 'o' });
  dc.onclose = shut;
  dc.onmessage = (e) => {
    const d = e.data;
    const n = typeof d === 'string' ? d.length : d.byteLength;
    if (inFlight === 0) ackedAt = Date.now();
    inFlight += n;
    if (inFlight > maxBytes) {
      shut();
      return;
    }
    if (typeof d === 'string') port.postMessage({ k: 'm', d });
    else port.postMessage({ k: 'm', d }, [d]);
    if (!stallTimer) armStall();
  };
  dc.onbufferedamountlow = () => port.postMessage({ k: 'b', b: dc.bufferedAmount, n: 0 });
  port.onmessage = (e) => {
    const m = e.data;
    switch (m.k) {
      case 's': {
        const n = typeof m.d === 'string' ? m.d.length : m.d.byteLength;
        try { dc.send(m.d); } catch { shut(); return; }
        port.postMessage({ k: 'b', b: dc.bufferedAmount, n });
        break;
      }
      case 'a':
        inFlight = Math.max(0, inFlight - m.n);
        ackedAt = Date.now();
        armStall();
        break;
      case 't':
        dc.bufferedAmountLowThreshold = m.n;
        break;
      case 'x':
        shut();
        break;
    }
  };
  if (dc.readyState === 'closed') shut();
  return shut;
}

// Not part of the API: for testing.js (js/test/forward.test.mjs,
// js/test/rtcservice.test.mjs).
Object.defineProperty(open, TESTING, { value: Object.freeze({ forwardChannel, RTCService, openOptions }) });
