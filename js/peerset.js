// peerset: a browser-first peer-to-peer record database. This ES module is
// the thin JavaScript side of the WebAssembly build (cmd/wasm): it loads
// peerset.wasm, starts the Go program and turns its bridge (JSON text across
// the boundary, one Promise per call) into the API described in peerset.d.ts.
import './wasm_exec.js';

export const version = '0.1.0';

const EVENT_TYPES = ['record', 'peer', 'sync', 'reject'];
const READY_HOOK = '__peersetBridgeReady';

let bridgePromise = null;

/**
 * Loads and starts the WebAssembly module. Optional: open() and
 * generateKey() call it with the default URL (peerset.wasm next to this file).
 */
export function initialize(opts = {}) {
  if (!bridgePromise) {
    const url = opts.wasmURL ?? new URL('./peerset.wasm', import.meta.url);
    bridgePromise = loadBridge(new URL(url, globalThis.location?.href));
    bridgePromise.catch(() => { bridgePromise = null; }); // a later call may retry
  }
  return bridgePromise.then(() => undefined);
}

async function loadBridge(url) {
  if (typeof WebAssembly !== 'object') {
    throw peersetError('this browser cannot run WebAssembly, which peerset needs: use a current browser', 'unsupported');
  }
  const howToFix = 'serve peerset.wasm next to peerset.js, or tell peerset where it is: peerset.initialize({ wasmURL: \'/path/to/peerset.wasm\' })';
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw peersetError(`could not fetch the WebAssembly module ${url} (${err.message}): ${howToFix}`, 'wasm-not-found');
  }
  if (!response.ok) {
    throw peersetError(`the WebAssembly module was not found at ${url} (HTTP ${response.status}): ${howToFix}`, 'wasm-not-found');
  }
  if ((response.headers.get('content-type') ?? '').startsWith('text/html')) {
    // Dev servers answer a missing file with their index page: typically a
    // bundler moved peerset.js without peerset.wasm.
    throw peersetError(`the server sent an HTML page, not peerset.wasm, for ${url}: ${howToFix}; with a bundler's dev server, keep peerset out of dependency pre-bundling (Vite 7 and older: optimizeDeps: { exclude: ['peerset'] })`, 'wasm-not-found');
  }
  const go = new globalThis.Go();
  let instance;
  const type = response.headers.get('content-type') ?? '';
  try {
    if (typeof WebAssembly.instantiateStreaming === 'function' && type.split(';')[0].trim() === 'application/wasm') {
      ({ instance } = await WebAssembly.instantiateStreaming(response, go.importObject));
    } else {
      // The server sends another MIME type (streaming compilation needs
      // application/wasm): compile from the whole body instead.
      ({ instance } = await WebAssembly.instantiate(await response.arrayBuffer(), go.importObject));
    }
  } catch (err) {
    throw peersetError(`${url} is not a usable peerset WebAssembly module (${err.message}): rebuild it with scripts/build-wasm.sh and serve it as application/wasm`, 'wasm-invalid');
  }
  const ready = new Promise((resolve) => { globalThis[READY_HOOK] = resolve; });
  const exited = go.run(instance).then(() => {
    throw peersetError('the WebAssembly program stopped before it was ready: see the browser console for its output', 'internal');
  });
  try {
    return await Promise.race([ready, exited]);
  } finally {
    delete globalThis[READY_HOOK];
  }
}

function peersetError(message, code) {
  const err = new Error(`peerset: ${message}`);
  if (code) err.code = code;
  return err;
}

async function bridge() {
  await initialize();
  return bridgePromise;
}

/** Generates a new key pair: { npub, nsec }. Keep the nsec secret. */
export async function generateKey() {
  return JSON.parse(await (await bridge()).generateKey());
}

/** Opens (and, unless offline, joins) a room. */
export async function open(opts) {
  if (!opts || typeof opts !== 'object' || typeof opts.room !== 'string' || opts.room.trim() === '') {
    throw new TypeError('peerset.open() needs a room name: peerset.open({ room: \'my-room\' })');
  }
  const b = await bridge();
  const events = new EventHub();
  const handle = await b.open(JSON.stringify(opts), events.emit);
  return new DB(handle, events);
}

// EventHub receives events from Go (emit(type, jsonArray)) and dispatches
// them to listeners in a task of their own (setTimeout), so that listener
// code never runs inside a Go call nor lengthens Go's slice of the main
// thread, and an exception in one listener reaches neither Go nor the other
// listeners. Go sends batches ('record' during a sync, 'reject' at most
// every 100 ms); each listener still gets one call per item. 'reject' items
// are bounded on the Go side: past 10 per peer and second they arrive as
// summaries ({ suppressed: n, ... }).
class EventHub {
  listeners = new Map(EVENT_TYPES.map((t) => [t, new Set()]));
  handle = null;

  emit = (type, json) => {
    const set = this.listeners.get(type);
    if (!set || set.size === 0) return;
    setTimeout(() => {
      let items;
      try {
        items = JSON.parse(json);
      } catch (err) {
        console.error('peerset: could not read an event from the WebAssembly side', err);
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
    }, 0);
  };

  add(type, cb) {
    const set = this.listeners.get(type);
    if (!set) {
      throw new TypeError(`peerset: unknown event '${type}': listen to one of ${EVENT_TYPES.map((t) => `'${t}'`).join(', ')}`);
    }
    if (typeof cb !== 'function') throw new TypeError(`peerset: db.on('${type}', cb) needs a function`);
    set.add(cb);
    if (set.size === 1) this.handle?.listen(type, true);
    return () => {
      if (set.delete(cb) && set.size === 0) this.handle?.listen(type, false);
    };
  }

  clear() {
    for (const set of this.listeners.values()) set.clear();
  }
}

function reportError(err) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
  else setTimeout(() => { throw err; });
}

/** An open room. Methods return Promises; after close() they reject. */
class DB {
  #handle;
  #events;
  #closed = false;

  constructor(handle, events) {
    this.#handle = handle;
    this.#events = events;
    events.handle = handle;
    const info = JSON.parse(handle.info);
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
     * this origin), 'encrypted' (passphrase), 'memory' or 'external' (nsec).
     */
    this.keyStorage = info.keyStorage;
  }

  get closed() { return this.#closed; }

  #open(method) {
    if (this.#closed) {
      throw peersetError(`db.${method}() was called after db.close(): open the room again with peerset.open()`, 'closed');
    }
    return this.#handle;
  }

  async put(r) {
    const h = this.#open('put');
    if (!r || typeof r !== 'object') {
      throw new TypeError('peerset: db.put() needs a record object, e.g. db.put({ text: \'hello\' })');
    }
    return toRecord(JSON.parse(await h.put(JSON.stringify(encodeDraft(r)))));
  }

  async get(uuid) {
    const h = this.#open('get');
    const json = await h.get(String(uuid));
    return json == null ? null : toRecord(JSON.parse(json));
  }

  async delete(uuid) {
    const h = this.#open('delete');
    await h.delete(String(uuid));
  }

  async query(q = {}) {
    const h = this.#open('query');
    return JSON.parse(await h.query(JSON.stringify(q ?? {}))).map(toRecord);
  }

  on(event, cb) {
    this.#open('on');
    return this.#events.add(event, cb);
  }

  async stats() {
    const h = this.#open('stats');
    return JSON.parse(await h.stats());
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.clear();
    await this.#handle.close();
  }

  /**
   * Test and benchmark hook, not part of the public API: ingests signed
   * NIP-01 events as if a peer named "import" had sent them (moderation
   * applies). Resolves to { stored, refused, invalid, byRule }.
   */
  async _importEvents(events) {
    const h = this.#open('_importEvents');
    return JSON.parse(await h._importEvents(typeof events === 'string' ? events : JSON.stringify(events)));
  }

  /** Test hook, not part of the public API: every live event (records and deletions). */
  async _exportEvents() {
    const h = this.#open('_exportEvents');
    return JSON.parse(await h._exportEvents());
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
