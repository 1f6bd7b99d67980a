// peerset's engine side: it loads peerset.wasm (the Go program, cmd/wasm),
// answers the calls of the page's shim (peerset.js) and gives the Go
// transport its WebRTC host. scripts/build-wasm.sh puts this file after Go's
// wasm_exec.js into dist/peerset.worker.js: one classic script with no
// imports, so that any server or bundler can serve it as it is.
//
// It runs in one of two places:
//   - a dedicated Worker (the default): peerset.js starts it with
//     new Worker(peerset.worker.js) and talks to it with postMessage. The
//     worker owns IndexedDB, the tracker WebSockets and the whole engine.
//     RTCPeerConnection exists only on the page (Window), so the WebRTC host
//     below asks the page to create each connection and receives its
//     RTCDataChannel, transferred (or, where a browser cannot transfer one,
//     its bytes forwarded over a MessagePort);
//   - the page itself (initialize({ worker: false })): loaded as a classic
//     <script>, it registers globalThis.__peersetEngine, and peerset.js
//     connects to it through a MessageChannel; the WebRTC host then calls
//     the page's RTCPeerConnection directly.
//
// Messages (page → engine): {t:'init', wasmURL, transfer}, {t:'call', id, h,
// m, a} (h 0: the bridge; else an open database), {t:'listen', h, type, on},
// {t:'rtc-r', seq, ok, v|e}, {t:'rtc-state', pc, state}, {t:'rtc-channel',
// pc, channel | port + state}, {t:'page-r', seq, ok, v|e}. Engine → page:
// {t:'ready'}, {t:'fatal', error}, {t:'result', id, ok, v|e}, {t:'ev', h,
// type, json, q} (acknowledged by the page with {t:'ev-ack'}; q: events in
// flight once it was posted), {t:'rtc', op, seq, pc, a}, {t:'page', cb, seq, op, a} (a
// custom rule's or the signer's work, for the page's callbacks cb).
(function () {
  'use strict';

  const READY_HOOK = '__peersetBridgeReady';
  const RTC_HOST = '__peersetRTC';
  // Messages a channel may deliver before Go listens (it listens at once:
  // this only guards against a bug), in bytes.
  const EARLY_LIMIT = 1 << 20;
  // Bytes received over a forwarded channel are acknowledged to the page at
  // most this often (ms), so that it can bound what it has in flight.
  const ACK_DELAY = 10;
  // Events (db.on) posted to the page and not yet acknowledged: past either
  // bound the engine's senders wait (emit returns a promise), so a page whose
  // main thread is busy holds back the engine's event pumps, whose own
  // queues are bounded, instead of piling messages up in its own queue.
  const EVENTS_IN_FLIGHT = 32;
  const EVENT_BYTES_IN_FLIGHT = 4 << 20;

  function errorInfo(err) {
    if (err && typeof err === 'object') {
      return { message: String(err.message ?? err), code: err.code, rule: err.rule, reason: err.reason };
    }
    return { message: String(err) };
  }

  function peersetError(message, code) {
    const err = new Error(`peerset: ${message}`);
    if (code) err.code = code;
    return err;
  }

  // --- loading the wasm

  async function loadWasm(url) {
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
    const type = response.headers.get('content-type') ?? '';
    if (type.startsWith('text/html')) {
      // Dev servers answer a missing file with their index page: typically a
      // bundler moved peerset.js without peerset.wasm.
      throw peersetError(`the server sent an HTML page, not peerset.wasm, for ${url}: ${howToFix}; with a bundler's dev server, keep peerset out of dependency pre-bundling (Vite 7 and older: optimizeDeps: { exclude: ['peerset'] })`, 'wasm-not-found');
    }
    const go = new globalThis.Go();
    let instance;
    try {
      if (typeof WebAssembly.instantiateStreaming === 'function' && type.split(';')[0].trim() === 'application/wasm') {
        ({ instance } = await WebAssembly.instantiateStreaming(response, go.importObject));
      } else {
        // Streaming compilation needs application/wasm: compile from the
        // whole body instead.
        ({ instance } = await WebAssembly.instantiate(await response.arrayBuffer(), go.importObject));
      }
    } catch (err) {
      throw peersetError(`${url} is not a usable peerset WebAssembly module (${err.message}): rebuild it with scripts/build-wasm.sh and serve it as application/wasm`, 'wasm-invalid');
    }
    const ready = new Promise((resolve) => { globalThis[READY_HOOK] = resolve; });
    const exited = go.run(instance).then(() => {
      throw peersetError('the WebAssembly program stopped: see the browser console for its output', 'internal');
    });
    try {
      return { bridge: await Promise.race([ready, exited]), exited };
    } finally {
      delete globalThis[READY_HOOK];
    }
  }

  // --- data channels as Go sees them (pkg/swarm/datachannel_js.go):
  // listen(onOpen, onClose, onMessage(Uint8Array | string), onLow), send(u8),
  // sendText(s), close(), bufferedAmount, readyState, lowWater = n.

  class Channel {
    listeners = null;
    dead = false;
    early = [];
    earlyBytes = 0;

    // emit passes an event to Go, or keeps it until Go listens.
    emit(kind, data) {
      if (this.listeners) {
        this.listeners[kind](data);
        return;
      }
      if (this.dead) return;
      this.early.push([kind, data]);
      this.earlyBytes += data?.length ?? data?.byteLength ?? 0;
      if (this.earlyBytes > EARLY_LIMIT) {
        this.early = [];
        this.dead = true;
        this.close();
      }
    }

    listen(onOpen, onClose, onMessage, onLow) {
      if (onOpen === null) {
        this.listeners = null;
        this.dead = true;
        this.early = [];
        this.detach();
        return;
      }
      this.listeners = [onOpen, onClose, onMessage, onLow];
      const early = this.early;
      this.early = [];
      this.earlyBytes = 0;
      for (const [kind, data] of early) {
        if (!this.listeners) break;
        this.listeners[kind](data);
      }
    }
  }

  // A real RTCDataChannel: transferred to this worker, or the page's own.
  // A transferred channel may deliver its first messages before this side
  // sees it open (Chromium does, for a channel the remote peer opened), and
  // an RTCDataChannel refuses to send until then: what Go sends meanwhile
  // waits here (it counts in bufferedAmount, so Go's backpressure holds it
  // to the usual bound) and goes out in order on open.
  class DirectChannel extends Channel {
    queued = null; // sends waiting for open
    queuedBytes = 0;

    constructor(dc) {
      super();
      this.dc = dc;
      dc.binaryType = 'arraybuffer';
      dc.onopen = () => {
        this.flush();
        this.emit(0);
      };
      dc.onclose = () => {
        this.queued = null;
        this.queuedBytes = 0;
        this.emit(1);
      };
      dc.onmessage = (e) => this.emit(2, typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
      dc.onbufferedamountlow = () => this.emit(3);
      if (dc.readyState === 'open') this.emit(0);
    }

    detach() {
      this.dc.onopen = this.dc.onclose = this.dc.onmessage = this.dc.onbufferedamountlow = null;
      this.queued = null;
    }

    send(data) {
      if (this.dc.readyState === 'connecting') {
        (this.queued ??= []).push(data);
        this.queuedBytes += data.length ?? data.byteLength;
        return;
      }
      this.dc.send(data);
    }

    sendText(s) { this.send(s); }

    flush() {
      const queued = this.queued;
      this.queued = null;
      this.queuedBytes = 0;
      for (const data of queued ?? []) this.dc.send(data);
    }

    close() {
      this.queued = null;
      this.dc.close();
    }

    get bufferedAmount() { return this.dc.bufferedAmount + this.queuedBytes; }
    get readyState() { return this.dc.readyState; }
    set lowWater(n) { this.dc.bufferedAmountLowThreshold = n; }
  }

  // A channel that stays on the page, its bytes forwarded over a
  // MessagePort (forwardChannel in peerset.js is the other end). The page
  // reports its channel's bufferedAmount after every send; what this side
  // posted and the page has not sent yet counts too.
  class PortChannel extends Channel {
    constructor(port, state) {
      super();
      this.port = port;
      this.state = state;
      this.inFlight = 0; // bytes posted to the page, not yet handed to the channel
      this.pageBuffered = 0; // the channel's bufferedAmount, as last reported
      this.threshold = 0;
      this.unacked = 0; // bytes received, not yet acknowledged
      this.ackTimer = 0;
      port.onmessage = (e) => this.receive(e.data);
      if (state === 'open') this.emit(0);
    }

    receive(m) {
      switch (m.k) {
        case 'm': {
          const data = typeof m.d === 'string' ? m.d : new Uint8Array(m.d);
          this.emit(2, data);
          this.unacked += data.length ?? data.byteLength;
          this.ackTimer ||= setTimeout(() => {
            this.ackTimer = 0;
            if (this.unacked > 0 && this.state !== 'closed') this.port.postMessage({ k: 'a', n: this.unacked });
            this.unacked = 0;
          }, ACK_DELAY);
          break;
        }
        case 'o':
          this.state = 'open';
          this.emit(0);
          break;
        case 'b': {
          const before = this.bufferedAmount;
          this.inFlight -= m.n;
          this.pageBuffered = m.b;
          if (before > this.threshold && this.bufferedAmount <= this.threshold) this.emit(3);
          break;
        }
        case 'c':
          if (this.state === 'closed') break;
          this.state = 'closed';
          this.emit(1);
          this.port.close();
          break;
      }
    }

    // detach: Go let go of the channel. The page's end is told to close the
    // data channel (it would otherwise stay open, forwarding into a port
    // nobody reads), and the port is closed once that message is out.
    detach() {
      this.port.onmessage = null;
      clearTimeout(this.ackTimer);
      this.ackTimer = 0;
      if (this.state !== 'closed') {
        this.state = 'closed';
        this.port.postMessage({ k: 'x' });
      }
      setTimeout(() => this.port.close(), 0);
    }

    send(u8) {
      if (this.state !== 'open') throw new DOMException(`data channel is ${this.state}`, 'InvalidStateError');
      const buf = u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? u8.buffer : u8.slice().buffer;
      this.inFlight += buf.byteLength;
      this.port.postMessage({ k: 's', d: buf }, [buf]);
    }

    sendText(s) {
      if (this.state !== 'open') throw new DOMException(`data channel is ${this.state}`, 'InvalidStateError');
      this.inFlight += s.length;
      this.port.postMessage({ k: 's', d: s });
    }

    close() {
      if (this.state === 'closed') return;
      this.state = 'closing';
      this.port.postMessage({ k: 'x' });
    }

    get bufferedAmount() { return this.inFlight + this.pageBuffered; }
    get readyState() { return this.state; }
    set lowWater(n) {
      this.threshold = n;
      this.port.postMessage({ k: 't', n });
    }
  }

  // --- the WebRTC host (pkg/swarm/peerconnection_js.go): create(iceServers,
  // gatherMs) → pc with listen(onState, onChannel), offer(), answer(sdp),
  // accept(sdp), candidate(json), close().

  class HostPC {
    onState = null;
    onChannel = null;
    pending = []; // events before listen
    closed = false;

    constructor(host, id) {
      this.host = host;
      this.id = id;
    }

    listen(onState, onChannel) {
      this.onState = onState;
      this.onChannel = onChannel;
      if (onState === null) return;
      const pending = this.pending;
      this.pending = [];
      for (const [kind, v] of pending) this.event(kind, v);
    }

    event(kind, v) {
      if (this.closed) {
        if (kind === 'channel') v.close();
        return;
      }
      if (!this.onState) {
        this.pending.push([kind, v]);
        return;
      }
      if (kind === 'state') this.onState(v);
      else this.onChannel(v);
    }

    offer() { return this.host.request('offer', this.id, []); }
    answer(sdp) { return this.host.request('answer', this.id, [sdp]); }
    accept(sdp) { return this.host.request('accept', this.id, [sdp]); }
    candidate(json) { return this.host.request('candidate', this.id, [json]); }

    close() {
      if (this.closed) return;
      this.closed = true;
      this.onState = this.onChannel = null;
      this.host.closePC(this.id);
    }
  }

  // The host of a worker: every call goes to the page.
  class RemoteRTCHost {
    available = false;
    pcs = new Map();
    nextPC = 0;
    nextSeq = 0;
    waiting = new Map(); // seq → { resolve, reject }

    constructor(post) {
      this.post = post;
    }

    create(iceServers, gatherMs) {
      const id = ++this.nextPC;
      const pc = new HostPC(this, id);
      this.pcs.set(id, pc);
      this.post({ t: 'rtc', op: 'create', pc: id, a: [iceServers, gatherMs] });
      return pc;
    }

    request(op, id, args) {
      const seq = ++this.nextSeq;
      return new Promise((resolve, reject) => {
        this.waiting.set(seq, { resolve, reject });
        this.post({ t: 'rtc', op, pc: id, seq, a: args });
      });
    }

    closePC(id) {
      this.pcs.delete(id);
      this.post({ t: 'rtc', op: 'close', pc: id });
    }

    // receive handles the page's rtc messages; false for other messages.
    receive(m) {
      switch (m.t) {
        case 'rtc-r': {
          const w = this.waiting.get(m.seq);
          if (!w) return true;
          this.waiting.delete(m.seq);
          if (m.ok) w.resolve(m.v);
          else w.reject(new Error(m.e));
          return true;
        }
        case 'rtc-state':
          this.pcs.get(m.pc)?.event('state', m.state);
          return true;
        case 'rtc-channel': {
          const ch = m.channel ? new DirectChannel(m.channel) : new PortChannel(m.port, m.state);
          const pc = this.pcs.get(m.pc);
          if (pc) pc.event('channel', ch);
          else ch.close();
          return true;
        }
      }
      return false;
    }

    // fail ends every pending call (the page went away).
    fail(message) {
      for (const w of this.waiting.values()) w.reject(new Error(message));
      this.waiting.clear();
    }
  }

  // The host on the page (worker: false): the page's RTC service is called
  // directly and its channels used as they are.
  class LocalRTCHost {
    pcs = new Map();
    nextPC = 0;

    constructor(service) {
      this.service = service;
      this.available = service.available;
      service.sink = {
        state: (id, state) => this.pcs.get(id)?.event('state', state),
        channel: (id, dc) => {
          const pc = this.pcs.get(id);
          if (pc) pc.event('channel', new DirectChannel(dc));
          else dc.close();
        },
      };
    }

    create(iceServers, gatherMs) {
      const id = ++this.nextPC;
      const pc = new HostPC(this, id);
      this.pcs.set(id, pc);
      this.service.create(id, iceServers, gatherMs);
      return pc;
    }

    request(op, id, args) { return this.service[op](id, ...args); }

    closePC(id) {
      this.pcs.delete(id);
      this.service.close(id);
    }
  }

  // --- the engine: the page's calls to the Go bridge and the open databases

  // --- the page's callbacks: custom moderation rules and a NIP-07 signer
  // live on the page (functions cannot cross to a worker), so the engine
  // asks the page: {t:'page', cb, seq, op, a} → {t:'page-r', seq, ok, v|e}.
  // Every call is bounded in time (Go passes its timeout) and in number.

  const MAX_PAGE_CALLS = 1024;

  function pageCalls(post) {
    const waiting = new Map(); // seq → { resolve, reject, timer }
    let nextSeq = 0;
    return {
      caller(cb) {
        return {
          call(op, arg, timeoutMs) {
            if (waiting.size >= MAX_PAGE_CALLS) return Promise.reject(new Error(`too many calls to the page waiting (${MAX_PAGE_CALLS})`));
            const seq = ++nextSeq;
            return new Promise((resolve, reject) => {
              const timer = setTimeout(() => {
                waiting.delete(seq);
                reject(new Error(`the page did not answer within ${timeoutMs} ms`));
              }, timeoutMs);
              waiting.set(seq, { resolve, reject, timer });
              post({ t: 'page', cb, seq, op, a: arg });
            });
          },
        };
      },
      // receive handles the page's answers; false for other messages.
      receive(m) {
        if (m.t !== 'page-r') return false;
        const w = waiting.get(m.seq);
        if (!w) return true;
        waiting.delete(m.seq);
        clearTimeout(w.timer);
        if (m.ok) w.resolve(m.v);
        else w.reject(new Error(m.e));
        return true;
      },
    };
  }

  // eventFlow bounds the events in flight to the page (EVENTS_IN_FLIGHT,
  // EVENT_BYTES_IN_FLIGHT): emit posts one and returns undefined, or, past a
  // bound, a promise that resolves once the page has acknowledged enough.
  function eventFlow(post) {
    const sizes = []; // of the events in flight, oldest first
    let bytes = 0;
    let waiters = [];
    const full = () => sizes.length >= EVENTS_IN_FLIGHT || bytes >= EVENT_BYTES_IN_FLIGHT;
    return {
      emit(h, type, json) {
        sizes.push(json.length);
        bytes += json.length;
        post({ t: 'ev', h, type, json, q: sizes.length });
        return full() ? new Promise((resolve) => waiters.push(resolve)) : undefined;
      },
      ack() {
        if (sizes.length > 0) bytes -= sizes.shift();
        if (!full() && waiters.length > 0) {
          const ready = waiters;
          waiters = [];
          for (const resolve of ready) resolve();
        }
      },
    };
  }

  function startEngine(port, makeHost) {
    const post = (m, transfer) => port.postMessage(m, transfer ?? []);
    const events = eventFlow(post);
    const host = makeHost(post);
    const page = pageCalls(post);
    const handles = new Map(); // id → the Go handle object
    let bridge = null;
    let nextHandle = 0;

    async function call(h, m, a) {
      if (h === 0) {
        if (m === 'generateKey') return bridge.generateKey();
        if (m === 'open') {
          const id = ++nextHandle;
          const emit = (type, json) => events.emit(id, type, json);
          const handle = await bridge.open(a[0], emit, a[1] ? page.caller(a[1]) : undefined);
          handles.set(id, handle);
          return { h: id, info: handle.info };
        }
        throw peersetError(`unknown call ${m}`, 'internal');
      }
      const handle = handles.get(h);
      if (!handle) throw peersetError('this database is closed: open it again with peerset.open()', 'closed');
      if (typeof handle[m] !== 'function' || m === 'listen') throw peersetError(`unknown call ${m}`, 'internal');
      const result = await handle[m](...a);
      if (m === 'close') handles.delete(h);
      return result;
    }

    port.onmessage = async (e) => {
      const msg = e.data;
      if (host.receive?.(msg) || page.receive(msg)) return;
      switch (msg.t) {
        case 'init':
          try {
            host.available = Boolean(msg.rtc);
            globalThis[RTC_HOST] = host;
            const loaded = await loadWasm(msg.wasmURL);
            bridge = loaded.bridge;
            loaded.exited.catch((err) => post({ t: 'fatal', error: errorInfo(err) }));
            post({ t: 'ready' });
          } catch (err) {
            post({ t: 'fatal', error: errorInfo(err) });
          }
          break;
        case 'call':
          try {
            post({ t: 'result', id: msg.id, ok: true, v: await call(msg.h, msg.m, msg.a) });
          } catch (err) {
            post({ t: 'result', id: msg.id, ok: false, e: errorInfo(err) });
          }
          break;
        case 'listen':
          handles.get(msg.h)?.listen(msg.type, msg.on);
          break;
        case 'ev-ack':
          events.ack();
          break;
      }
    };
    return host;
  }

  const inWorker = typeof WorkerGlobalScope === 'function' && self instanceof WorkerGlobalScope;
  if (inWorker) {
    startEngine(self, (post) => new RemoteRTCHost(post));
  } else {
    globalThis.__peersetEngine = {
      // start connects an engine on this page to port; service is the
      // page's RTC service (peerset.js).
      start(port, service) {
        startEngine(port, () => new LocalRTCHost(service));
      },
      // For the tests (js/test/port-channel.test.mjs, event-flow.test.mjs).
      PortChannel,
      eventFlow,
      limits: { EVENTS_IN_FLIGHT, EVENT_BYTES_IN_FLIGHT },
    };
  }
})();
