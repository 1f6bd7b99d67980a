// Types of peerset's JavaScript API (peerset.js and the <script> build's
// window.peerset). The test hooks are in testing.d.ts (`peerset/testing`).

/**
 * The version of this package (the repository's VERSION file, written in
 * by the build; the same as `peerset version` of the Go command).
 */
export const version: string;

/** Where and how the engine runs: see `initialize()`. */
export interface InitializeOptions {
  /** Where `peerset.wasm` is (default: next to `peerset.js`). */
  wasmURL?: string | URL;
  /**
   * Where the engine's worker script `peerset.worker.js` is (default: next
   * to `peerset.js`). A script of another origin (a CDN) is fetched and
   * started from a `blob:` URL.
   */
  workerURL?: string | URL;
  /**
   * `false` runs the engine on the page's main thread (it loads
   * `peerset.worker.js` as a classic script) instead of in a dedicated
   * Worker: an escape hatch for pages that cannot start workers. Long syncs
   * then compete with the page for its thread. Default: a worker wherever
   * the browser has `Worker`.
   */
  worker?: boolean;
  /**
   * How data channels reach the engine's worker: `true` transfers every
   * `RTCDataChannel` to it (Chromium 130+, Firefox 144+, Safari 15+),
   * `false` keeps them on the page and forwards their bytes over a
   * `MessagePort`. Default: transfer where the browser can, forward where it
   * cannot (decided by the first channel). `stats().engine` says which.
   */
  transferChannels?: boolean;
}

/**
 * Loads and starts the engine: a dedicated Worker running `peerset.wasm`
 * (see `InitializeOptions`). Optional: `open()` and `generateKey()` call it
 * with the defaults, `peerset.worker.js` and `peerset.wasm` next to
 * `peerset.js`. Call it first to load them from elsewhere (a CDN, hashed
 * file names) or to run the engine on the page. Only the first call's
 * options count; a failed start may be retried.
 *
 * Rejects with an `Error` whose `code` is `'wasm-not-found'` (the message
 * names the URL that was tried and how to set `wasmURL`), `'wasm-invalid'`,
 * `'worker-failed'` (the worker script could not be loaded: the message
 * names its URL, `workerURL`, CSP `worker-src` and `worker: false`) or
 * `'unsupported'` (no WebAssembly).
 */
export function initialize(opts?: InitializeOptions): Promise<void>;

/** A key pair, as `generateKey()` makes it. */
export interface KeyPair {
  /** The public key (NIP-19 `npub1…`). */
  npub: string;
  /** The secret key (NIP-19 `nsec1…`): keep it secret, it signs as this user. */
  nsec: string;
}

/** Generates a new key pair. Keep the `nsec` secret: it signs as this user. */
export function generateKey(): Promise<KeyPair>;

/** Session limits and timers of the peer protocol, in milliseconds; 0 or absent: the default. */
export interface SessionOptions {
  /** The peer's hello must arrive within this of the connection (default 10 000). */
  handshakeTimeout?: number;
  /** The peer's signed answer must arrive within this of its hello (default 10 000). */
  challengeTimeout?: number;
  /** A peer session ends after this long (default 6 h; negative: never). */
  maxPeerSessionTime?: number;
  /** This node leaves every session after this long (default 24 h; negative: never). */
  maxClientSessionTime?: number;
  /** Roots are re-announced to idle peers this often (default 15 000). */
  idleRootInterval?: number;
  /** A reconciliation round must be answered within this (default 15 000). */
  roundTimeout?: number;
  /** Asked-for records must arrive within this (default 15 000). */
  wantTimeout?: number;
  /**
   * @deprecated Use the top-level `OpenOptions.maxPeers`: one number bounds
   * both the open connections and the authenticated sessions. Given here
   * alone it is taken as that number; given in both places with different
   * values, `open()` rejects with code `'invalid'`.
   */
  maxPeers?: number;
  /**
   * Records one peer may add to this database at once (default 20 000);
   * past it, sync with that peer slows to `ingestRate`.
   */
  ingestBurst?: number;
  /** Records per second one peer may add after `ingestBurst` (default 2 000). */
  ingestRate?: number;
  /** Bytes one peer may make this node send at once (default 16 MiB). */
  uploadBurst?: number;
  /** Bytes per second one peer may make this node send after `uploadBurst` (default 4 MiB). */
  uploadRate?: number;
}

export type ModerationPreset = 'open' | 'standard' | 'strict';

/**
 * A preset with some of its numbers changed. Every peer of a room should use
 * the same rules: peers whose rules differ never reach equal sets, and say so
 * (`SessionStatus.rulesDiffer`).
 */
export interface ModerationOptions {
  /** The preset to start from (default `'standard'`). */
  preset?: ModerationPreset;
  /**
   * Live records per author: the newest win, older ones are evicted
   * everywhere (0: no quota). A `put` over the quota rejects with
   * `rule: 'author-quota'`. Standard: 5, strict: 3.
   */
  quota?: number;
  /** Deletions kept per author, the newest (0: no quota). Standard: 20, strict: 10. */
  deletionQuota?: number;
  /**
   * NIP-13 proof of work every record and deletion must carry, in leading
   * zero bits of its id (0: none; at most 32). This node's own writes are
   * mined to it: each bit doubles the work (16 bits: tens to hundreds of ms).
   * Strict: 16.
   */
  proofOfWork?: number;
  /**
   * Words refused besides the preset's list (turns the `bad-words` rule on,
   * also under `'open'`). At most 10,000 words of at most 100 bytes.
   */
  badWords?: string[];
  /**
   * Links (the record's `link`) only to these hosts and their subdomains,
   * e.g. `['example.org']` (turns the `link-policy` rule on: https only).
   */
  allowLinkHosts?: string[];
  /** Records older than this many days are refused and collected (default 90; 1 hour to 3650 days). */
  retentionDays?: number;
  /**
   * Custom rules, run after the built-in ones on every record, your own and
   * peers'. See `ModerationRule`.
   */
  rules?: ModerationRule[];
  /**
   * Milliseconds the page has to judge a batch of records with `rules`
   * (default 5000, at most 10000: while the page judges a batch, the
   * session with the peer that sent it waits, and its own timeouts are
   * 15 s). Records of a batch not judged in time
   * are refused for now (`err.rule` is the first custom rule's name, the
   * reason says so) and offered again by peers later (after the refusal
   * memory, 10 minutes).
   */
  ruleTimeout?: number;
}

/**
 * What a custom rule's `check` returns: `true` accepts the record; a
 * non-empty string refuses it with that reason. Anything else (`false`,
 * `undefined`) refuses it too, with a generic reason. A Promise of those is
 * awaited, within `ModerationOptions.ruleTimeout`.
 */
export type RuleVerdict = true | string;

/**
 * A custom moderation rule. `check` runs on the page (functions cannot
 * reach the engine's worker): the engine asks the page to judge each batch
 * of records it ingests, one round trip per batch of at most 256 records.
 *
 * **A rule must be a pure function of the record**: the same record, the
 * same answer, whenever and wherever it is asked (no clock, no random, no
 * state, no network). Verdicts are remembered by record id. A rule that
 * throws refuses the record with the error's message.
 *
 * **Convergence.** Peers whose rules differ — other custom rules, or the
 * same names with other code — keep different sets and never converge with
 * each other: each refuses what its rules refuse. They still sync
 * everything else. `stats().sessions[i].rulesDiffer` says so (custom rule
 * names are part of the rules digest peers compare; changed code under the
 * same name is not: give a changed rule a new name).
 */
export interface ModerationRule {
  /** Non-empty, unique, at most 64 bytes, not a built-in rule's name (`'bad-words'`, …): the name `err.rule` and `reject` events report. */
  name: string;
  /** Judges one record (records only; deletions pass). */
  check: (record: Readonly<PeersetRecord>) => RuleVerdict | boolean | Promise<RuleVerdict | boolean>;
}

/**
 * A NIP-07 signer: `window.nostr` of a browser extension (nos2x, Alby, …)
 * or any object with these two methods.
 */
export interface Nip07Signer {
  /** The signer's public key, hex (an npub is accepted too). */
  getPublicKey(): Promise<string> | string;
  /** Signs an event template ({ kind, created_at, tags, content, pubkey }) and returns the signed event. */
  signEvent(event: NostrEventTemplate): Promise<NostrEvent> | NostrEvent;
}

/** The event a signer is asked to sign. */
export interface NostrEventTemplate {
  kind: number;
  created_at: number;
  tags: string[][];
  content: string;
  pubkey: string;
}

/**
 * `'author'` (default): every handshake proves this node's key (with a
 * signer: a session key drawn at open()). `'ephemeral'`: a fresh key per
 * connection, never kept: peers sync with the node and can strike or ban
 * that connection, but learn no long-term key from the handshake. Writes
 * need an `nsec` or a `signer` (the records carry that author, as records
 * must); without one the database is read-only.
 */
export type Identity = 'author' | 'ephemeral';
export type Granularity = 'none' | 'day' | 'quarter-day' | 'hour';

export interface OpenOptions {
  /** The room name. Peers of the same appId, room and password sync with each other. */
  room: string;
  /** Namespaces rooms (default `"peerset"`); Trystero apps use the same notion. */
  appId?: string;
  /**
   * WebTorrent tracker URLs (`wss://…` or `ws://…`) used to find peers, all
   * at once. Default: a list of public trackers, unless `relays` are given
   * (then none).
   */
  trackers?: string[];
  /**
   * Nostr relay URLs (`wss://…` or `ws://…`) to find peers through, beside
   * the trackers (Trystero's Nostr strategy, so Trystero apps using it meet
   * this room too). Given without `trackers`, the room uses relays only.
   * Default: none.
   */
  relays?: string[];
  /** The room password: peers with another password never connect. */
  password?: string;
  /**
   * The key to sign with (`nsec1…`, or an `ncryptsec1…` with its
   * `passphrase`: NIP-49, opened here and kept nowhere). Without it the key
   * kept for this appId and room is used, or a new one is generated and
   * kept (see `passphrase`).
   */
  nsec?: string;
  /**
   * Keeps the stored key encrypted (NIP-49 `ncryptsec`, scrypt: about a
   * second to open). Without a passphrase the key is stored in the clear in
   * IndexedDB: any script running on this page's origin can read it and
   * sign records as this user — on a shared origin such as a `*.github.io`
   * host, every site of that host — and so can anyone with access to this
   * browser profile (another person on the same account, malware, a copied
   * profile). `db.keyStorage` is then `'clear'`. With one, the same
   * passphrase is needed every time the room is opened; a wrong or missing
   * one rejects with `code: 'key-passphrase'`.
   */
  passphrase?: string;
  /**
   * A NIP-07 signer (e.g. `window.nostr`) that signs this node's records:
   * no secret key is generated or stored, `db.key` is the signer's npub and
   * `db.keyStorage` is `'signer'`. Each put and delete asks the signer once
   * (the extension may ask the user); a refusal rejects with
   * `code: 'signer'`. The handshake uses a session key drawn at open() and
   * never kept, so connecting to peers asks the signer nothing; peers see
   * that session key, not the signer's. Not with `nsec` or `passphrase`.
   */
  signer?: Nip07Signer;
  /** Which key the handshakes prove: see `Identity` (default `'author'`). */
  identity?: Identity;
  /**
   * What records are accepted, from "let it fly" to "Fort Knox" (default
   * `'standard'`): a preset, or a preset with some numbers changed.
   */
  moderation?: ModerationPreset | ModerationOptions;
  /**
   * ICE servers for WebRTC. Absent: public STUN servers. `[]`: none (host
   * candidates only, for a LAN or a local demo).
   */
  iceServers?: RTCIceServer[];
  /** Time buckets of the first sync split and of `stats().buckets` (default `'day'`). */
  granularity?: Granularity;
  /** Session limits and timers. */
  session?: SessionOptions;
  /** Do not join the swarm: a local database only (default false). */
  offline?: boolean;
  /**
   * Most peers at once (default 32): open connections, and authenticated
   * sessions among them. Past it the room makes no offers and answers none,
   * and a peer that authenticates anyway is told the room is full. The one
   * place to set it (`session.maxPeers` is a deprecated alias).
   */
  maxPeers?: number;
  /** The largest file this node stores or fetches, in bytes (default 16 MiB). */
  maxBlobBytes?: number;
  /** Bytes of files per author this node keeps (default 64 MiB); past it a put or fetch is refused by rule `blob-quota-author`. */
  blobQuotaAuthor?: number;
  /** Bytes of files in the whole room this node keeps (default 256 MiB); rule `blob-quota-room`. */
  blobQuotaRoom?: number;
  /** Files at or under this many bytes are fetched as soon as their record arrives (default 256 KiB; -1: never). */
  prefetchBelow?: number;
  /**
   * Where records and the key are kept: see `StorageKind` (default
   * `'indexeddb'`).
   */
  storage?: StorageKind;
  /** The IndexedDB database name; default derived from appId and room. */
  databaseName?: string;
  /** Log the engine's debug log (transport, sessions, strikes) to the console (default false). */
  debug?: boolean;
}

/**
 * Where records and the key are kept: `'indexeddb'` survives reloads;
 * `'memory'` is gone when the page closes or `close()` is called.
 */
export type StorageKind = 'indexeddb' | 'memory';

/** A location in decimal degrees (WGS 84). */
export interface Geo {
  lat: number;
  lon: number;
}

/** What `put()` takes (also known as `PutInput`). A record holds text or data, not both. */
export interface RecordInput {
  /** Plain text. */
  text?: string;
  /** A URL. Moderation may require https. */
  link?: string;
  geo?: Geo;
  /** Set to the uuid of one of your records to publish a new version of it. */
  uuid?: string;
  /** Any JSON-serialisable value, or bytes (Uint8Array, ArrayBuffer). */
  data?: unknown;
  /** The media type of `data` (default `application/json`, or `application/octet-stream` for bytes). */
  mediaType?: string;
  /**
   * A file to share (a Blob, File, ArrayBuffer or Uint8Array, at most
   * `maxBlobBytes`): stored once, content-addressed by SHA-256, and fetched by
   * peers in checked chunks. The record stays small and signed; `text` is its
   * caption. Not with `data`.
   */
  file?: Blob | ArrayBuffer | ArrayBufferView;
  /** The file's media type (default: the File's `type`, else `application/octet-stream`). */
  type?: string;
}

/** The file a record refers to (`record.blob`); `db.blob(uuid)` reads it. */
export interface BlobInfo {
  /** SHA-256 of the whole file, lowercase hex. */
  sha256: string;
  size: number;
  type: string;
}

/** What `put()` takes: the same as `RecordInput`. */
export type PutInput = RecordInput;

/**
 * What `query()` takes. Every field is optional: `query()` lists every live
 * record, newest first.
 */
export interface QueryOptions {
  /** Only this author's records (an npub). */
  author?: string;
  /** Only records created at or after this time (milliseconds, like `createdAt`). */
  since?: number;
  /** Only records created at or before this time (milliseconds, like `createdAt`). */
  until?: number;
  /** At most this many records (0 or absent: all). */
  limit?: number;
  /** Oldest first instead of newest first. */
  oldest?: boolean;
}

/** A NIP-01 Nostr event: the signed form of a record. */
export interface NostrEvent {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
}

export interface PeersetRecord {
  /** The record's id across versions (a v4 UUID). */
  uuid: string;
  /** The author's public key (npub). */
  author: string;
  /** Creation time in milliseconds since the epoch (whole seconds). */
  createdAt: number;
  text?: string;
  link?: string;
  geo?: Geo;
  /** The geohash of `geo` (9 characters). */
  geohash?: string;
  /** Parsed JSON, or a Uint8Array for binary media types. */
  data?: unknown;
  /** The media type of `data` (absent for plain text). */
  mediaType?: string;
  /** The file the record refers to, if any (then `text` is its caption). */
  blob?: BlobInfo;
  /** The event id (hex): changes with every version. */
  id: string;
  /** The raw NIP-01 event: any Nostr tool can verify it. */
  event: NostrEvent;
}

/** A time range in milliseconds; `end` is null when open-ended. */
export interface TimeRange {
  start: number;
  end: number | null;
}

/**
 * The state of a peer session, in the order a session goes through them
 * (`syncing` and `idle` alternate once authenticated).
 */
export type SessionState =
  | 'connecting' | 'open' | 'hello' | 'authenticated' | 'syncing' | 'idle' | 'closing' | 'closed';

/** One peer session (stats().sessions, 'peer' events). */
export interface PeerSession {
  /** The transport peer id. */
  peerId: string;
  state: SessionState;
  /** The peer's key (npub) from its hello; proven once authenticated. */
  pubkey?: string;
  authenticated: boolean;
  /** Whether this node starts the reconciliations with this peer. */
  initiator: boolean;
  /** Round-trip time in milliseconds; null while unknown. */
  rtt: number | null;
  attachedAt?: number;
  authenticatedAt?: number;
  localRoot: string;
  localCount: number;
  remoteRoot: string;
  remoteCount: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Records received from the peer. */
  recordsIn: number;
  /** Of those, stored here. */
  recordsStored: number;
  /** Of those, refused (moderation, stale, invalid). */
  recordsRefused: number;
  /** Records sent to the peer. */
  recordsOut: number;
  reconciliations: number;
  rounds: number;
  /** Records known to be missing here and not yet asked for. */
  pending: number;
  /** Records asked for and not yet received. */
  wantsInFlight: number;
  /** Strikes the peer earned (protocol violations, invalid records, floods). */
  strikes: number;
  lastSyncMs: number;
  lastSyncAt?: number;
  /** The peer's last announced root equals ours: the two sets are equal (as far as that root is current). */
  rootsEqual: boolean;
  /**
   * The peer's moderation rules differ from ours, so our sets never become
   * equal; sync with it backs off (`syncBackoffMs`) instead of running forever.
   */
  rulesDiffer: boolean;
  /** The pause before the same difference is reconciled again (0: none). */
  syncBackoffMs: number;
  /** Records of the peer not taken yet because of its ingest budget (asked for again later). */
  recordsThrottled: number;
  /** Requests of the peer that waited for its upload budget. */
  uploadDeferred: number;
  /** Where the last reconciliation found the sets differ. */
  missingRanges: TimeRange[];
  /** Why the session ended (closed sessions). */
  closeReason?: string;
  closed: boolean;
}

/** A tracker connection's state: `'closed'` while it waits to reconnect (or the room is closed). */
export type TrackerState = 'connecting' | 'open' | 'closed';

/**
 * How often the room announces to a tracker: `'warmup'` (a few announces in
 * quick succession), `'steady'`, then `'dormant'` once enough peers are
 * connected (rare passive announces without offers).
 */
export type AnnouncePhase = 'warmup' | 'steady' | 'dormant';

/** One tracker connection. */
export interface TrackerStatus {
  url: string;
  state: TrackerState;
  lastError?: string;
  reconnectAttempts: number;
  phase: AnnouncePhase;
  intervalMs: number;
  announces: number;
  lastAnnounce?: number;
}

/** A Nostr relay connection's state: `'closed'` while it waits to reconnect (or the room is closed). */
export type RelayState = 'connecting' | 'open' | 'closed';

/** One Nostr relay connection. */
export interface RelayStatus {
  url: string;
  state: RelayState;
  /** The last connection error, rejection or NOTICE from the relay. */
  lastError?: string;
  reconnectAttempts: number;
  announces: number;
  lastAnnounce?: number;
  /** Signals received from peers through this relay, verified. */
  received: number;
  /** Events refused: bad signature, wrong topic or kind, stale, malformed. */
  dropped: number;
}

/** One time bucket of the record set. */
export interface Bucket extends TimeRange {
  count: number;
  /** Fingerprint of the bucket's records: two peers' buckets differ exactly where their sets do. */
  fingerprint: string;
}

/**
 * How this node's secret key is kept:
 * - `'clear'`: in IndexedDB, unencrypted. Any script running on this page's
 *   origin can read it and sign as this user; on a shared origin (e.g. a
 *   `*.github.io` host, where every site of that host is one origin) that
 *   means every other site there. Pass `passphrase`, take `nsec` from the
 *   user, or serve the page from an origin of your own.
 * - `'encrypted'`: in IndexedDB, encrypted with `passphrase` (NIP-49).
 * - `'memory'`: `storage: 'memory'`; gone when the page closes.
 * - `'external'`: from `nsec`; peerset keeps no copy.
 * - `'signer'`: a NIP-07 signer holds it (`signer`); peerset never sees it.
 * - `'none'`: no key: `identity: 'ephemeral'` without `nsec`, `signer` or `passphrase` (read-only).
 */
export type KeyStorage = 'clear' | 'encrypted' | 'memory' | 'external' | 'signer' | 'none';

export interface Stats {
  /** Authenticated peers. */
  peers: number;
  /** Live records. */
  records: number;
  /** Deletion tombstones kept so that deletions sync. */
  deletions: number;
  /** The index is still being rebuilt after open(): `records` counts every stored event (deletions included) until then; writes wait for it. */
  loading: boolean;
  /**
   * How open() built the index: `'snapshot'`, from the index snapshot kept in IndexedDB and the changes
   * made since it was saved (one value and a short journal: fast), or `'store'`, from every stored record
   * (the first open, or after the snapshot was dropped or damaged: slower, in the background).
   */
  indexFrom: 'snapshot' | 'store';
  /** Fingerprint of the whole set (hex): equal sets have equal roots. */
  root: string;
  /** This node's public key (npub); '' when read-only. */
  key: string;
  /** True when this node cannot sign (`identity: 'ephemeral'` without `nsec`, `signer` or `passphrase`). */
  readOnly: boolean;
  /** The transport peer id while online, else ''. */
  peerId: string;
  appId: string;
  room: string;
  roomId: string;
  moderation: ModerationPreset;
  granularity: Granularity;
  online: boolean;
  storage: StorageKind;
  /** How this node's secret key is kept: see `KeyStorage`. */
  keyStorage: KeyStorage;
  trackers: TrackerStatus[];
  relays: RelayStatus[];
  sessions: PeerSession[];
  /** Per-bucket view (day buckets when the granularity is 'none'). */
  buckets: Bucket[];
  /** The union of the sessions' missing ranges. */
  missingRanges: TimeRange[];
  /** Where the engine runs and how data channels reached it (see `InitializeOptions`). */
  engine: EngineInfo;
  /**
   * For this node's live records (by uuid) whose current version is
   * tracked: how many peers are known to hold it ("held by N"; see
   * `DB.holders`). Poll it for a live count.
   */
  held: Record<string, number>;
}

/** Who holds a record's current version: see `DB.holders`. */
export interface Holders {
  /** peers.length. */
  count: number;
  /** The peers' keys (npubs), as proven in their handshakes (for an ephemeral peer: its connection's key). */
  peers: string[];
}

export interface EngineInfo {
  /** `'worker'`: a dedicated Worker (the default); `'page'`: the main thread (`worker: false`). */
  thread: 'worker' | 'page';
  /** Data channels handed to the engine so far, by path. */
  dataChannels: DataChannelCounts;
  /**
   * The most event messages (`db.on`) the engine has had waiting for this page at once. The engine keeps
   * at most 32 messages (or 4 MiB) in flight and then waits for the page to take them, so a page whose
   * main thread is busy holds back the events instead of queueing them without bound.
   */
  eventsInFlightHigh: number;
}

/** Data channels handed to the engine so far, by path (see `InitializeOptions.transferChannels`). */
export interface DataChannelCounts {
  /** Transferred to the engine's worker. */
  transferred: number;
  /** Kept on the page, their bytes forwarded to the worker over a `MessagePort`. */
  forwarded: number;
  /** Handed to an engine running on the page (`worker: false`). */
  onPage: number;
}

/** A record added or removed (replaced by a new version, deleted, expired). */
export interface RecordChange {
  record: PeersetRecord;
  uuid: string;
  removed: boolean;
  /** 'local' for this node's own writes, else the peer id it came from. */
  origin: string;
  /** For an added record: how many peers were known to hold it when it was added (the sender, at least). Absent when removed. */
  heldBy?: number;
  overflow?: undefined;
}

/**
 * Changes that were not reported one by one: the engine fell so far behind
 * in handing them to the page (more than 10,000 changes or about 8 MiB of
 * them queued in the engine) that it dropped them. `missed` counts them;
 * query again (`db.query`) to see where the records stand. Later changes
 * are reported as usual. (Changes handed to the page wait in its message
 * queue until its listeners run; the engine keeps at most 32 such messages,
 * or 4 MiB of them, in flight, and holds the rest back in its own queue.)
 */
export interface RecordsOverflow {
  overflow: true;
  missed: number;
  record?: undefined;
  uuid?: undefined;
  removed?: undefined;
  origin?: undefined;
  heldBy?: undefined;
}

/** What a `'record'` listener gets: a change, or an overflow (query again). */
export type RecordEvent = RecordChange | RecordsOverflow;

/** A peer session appeared, changed state or closed. */
export type PeerEvent = PeerSession;

/** Sync progress, summed over the sessions. */
export interface SyncEvent {
  /** Authenticated peers. */
  peers: number;
  /** Records stored from peers (all sessions). */
  recordsIn: number;
  /** Records sent to peers. */
  recordsOut: number;
  /** Records known to be missing here (asked for or not yet). */
  pending: number;
  /** Sessions in the syncing state. */
  syncing: number;
  /** Records received since the current catch-up started. */
  received: number;
  /** received + pending. */
  total: number;
  /** received / total; 1 when done. */
  progress: number;
  /** Nothing pending and no session syncing. */
  done: boolean;
}

/**
 * A record a peer sent that moderation or verification refused, or a
 * summary of refusals that were not reported one by one.
 *
 * A hostile peer can send refused records as fast as its link allows, so
 * `reject` events are bounded: at most 10 per peer and second are reported
 * one by one; the others are counted, and reported as a summary (`suppressed`
 * > 0) at most once a second per peer and rule. They reach the page in
 * batches (at most one every 100 ms); the listener is still called once per
 * item. Summing `suppressed` (or 1 for a single refusal) counts every refusal.
 *
 * Only a record whose id and signature were verified is named (`id`,
 * `author`, `uuid`). A peer can claim any record's id, or send a real
 * record's content with a broken signature: such a refusal has
 * `unverified: true` and names only the peer and the rule, never the record
 * it pretends to be.
 */
export interface RejectEvent {
  /**
   * The rule's name, e.g. "bad-words", "no-link-in-text", "integrity",
   * "timestamp". Empty in a summary that spans several peers.
   */
  rule: string;
  reason: string;
  /** The transport id of the peer that sent it. Empty in a summary that spans several peers. */
  peerId: string;
  /** The peer's key (npub), when known. */
  peer?: string;
  /** The refused event's id, author (npub) and uuid: only when verified. */
  id?: string;
  author?: string;
  uuid?: string;
  /** True when the event's id and signature were not verified (or failed): `id`, `author` and `uuid` are left out. */
  unverified?: boolean;
  /** A summary: this many more refusals from `peerId` by `rule` were not reported one by one. */
  suppressed?: number;
}

/**
 * What `db.import()` did. `byRule` counts the refused and invalid events by
 * rule name: "integrity" (a wrong id or signature, another room), "parse"
 * (not an event at all), "duplicate" (already held), "bad-words", "quota", ...
 */
export interface ImportResult {
  /** Events now held. */
  stored: number;
  /** Verified events that moderation, the replacement and deletion rules or a quota did not keep (already held, stale, refused by a rule). */
  refused: number;
  /** Input that is not an event, and events that fail integrity (id, signature, room, structure). */
  invalid: number;
  byRule: Record<string, number>;
}

/** Progress of `db.import()`, after each chunk the engine has handled. */
export interface ImportProgress {
  /** Items of the input decided so far (stored, refused or invalid). */
  done: number;
  stored: number;
  refused: number;
  invalid: number;
}

export interface ImportOptions {
  /** Called after each chunk (at most 1,000 events). An exception in it is reported, not thrown. */
  onProgress?: (p: ImportProgress) => void;
  /** Stops the import between chunks: the Promise rejects with the signal's reason. Chunks already handled stay stored. */
  signal?: AbortSignal;
}

/**
 * What `db.import()` accepts: NIP-01 events (objects, or JSON text one event
 * each) in an array, an iterable or an async iterable; or one string of JSON
 * lines (one event per line) or a JSON array.
 */
export type ImportInput =
  | Iterable<NostrEvent | string>
  | AsyncIterable<NostrEvent | string>
  | string;

export interface EventMap {
  record: RecordEvent;
  peer: PeerEvent;
  sync: SyncEvent;
  reject: RejectEvent;
  blob: BlobEvent;
}

/** Progress of a file being stored or fetched (`db.on('blob', …)`). */
export interface BlobEvent {
  /** The file's SHA-256 (`record.blob.sha256`). */
  sha256: string;
  /** Bytes held so far. */
  received: number;
  size: number;
  /** The whole file is held, or the fetch failed (`error`). */
  done: boolean;
  error?: string;
  /** The rule that refused the fetch (`blob-size`, `blob-quota-author`, `blob-quota-room`). */
  rule?: string;
}

/** The events `db.on()` listens to: `'record'`, `'peer'`, `'sync'`, `'reject'` or `'blob'`. */
export type EventType = keyof EventMap;

/**
 * What went wrong, for a page to handle:
 * - `'rejected'`: moderation refused a put (see `rule` and `reason`);
 * - `'signer'`: the NIP-07 signer refused (the user said no) or failed, or
 *   returned something other than the event it was asked to sign;
 * - `'read-only'`: a put or delete on a database that has no key
 *   (`identity: 'ephemeral'` without `nsec`, `signer` or `passphrase`);
 * - `'not-found'`: `holders()` of a record this node does not hold, `delete()` of
 *   a record this node's key does not hold;
 * - `'invalid'`: an argument or option that cannot work (the message says which);
 * - `'closed'`, `'key-passphrase'`, `'unsupported'`, `'wasm-not-found'`,
 *   `'wasm-invalid'`, `'worker-failed'`, `'internal'`.
 */
export type ErrorCode =
  | 'rejected' | 'signer' | 'read-only' | 'not-found' | 'invalid' | 'closed' | 'key-passphrase' | 'unavailable' | 'no-blob'
  | 'unsupported' | 'wasm-not-found' | 'wasm-invalid' | 'worker-failed' | 'internal';

/** An error from peerset: see `ErrorCode`. */
export interface PeersetError extends Error {
  code?: ErrorCode;
  /** The moderation rule that refused a put, e.g. "bad-words", "no-link-in-text", or a custom rule's name. */
  rule?: string;
  reason?: string;
}

/** An open room. Every method but `on` returns a Promise; after `close()` they reject with code 'closed'. */
export interface DB {
  /** This node's public key (npub): the signer's with `signer`; '' when read-only. */
  readonly key: string;
  /** True when this node cannot sign (`identity: 'ephemeral'` without `nsec`, `signer` or `passphrase`): put and delete reject with code 'read-only'. */
  readonly readOnly: boolean;
  /** The transport peer id while online, else ''. */
  readonly peerId: string;
  readonly appId: string;
  readonly room: string;
  readonly roomId: string;
  readonly storage: StorageKind;
  /** How this node's secret key is kept: see `KeyStorage`. */
  readonly keyStorage: KeyStorage;
  readonly online: boolean;
  readonly databaseName: string;
  readonly closed: boolean;

  /**
   * Signs, moderates, stores and shares a record. A refusal rejects with a
   * PeersetError whose message names the rule and that has `rule` and `reason`.
   * It resolves once the IndexedDB transaction holding the record has
   * completed, with durability "relaxed": the record survives a reload, a
   * closed tab and a crash of the browser, but an operating-system crash or
   * power loss right after may lose it.
   */
  put(r: RecordInput): Promise<PeersetRecord>;
  /** The live record with this uuid (your own first), or null. */
  get(uuid: string): Promise<PeersetRecord | null>;
  /**
   * The file of the record uuid: from this browser's storage, or fetched in
   * chunks from the peers that hold it (each checked against the record's
   * hashes, then kept; progress in 'blob' events). null when there is no such
   * record. Rejects with code 'no-blob' for a record without a file,
   * 'unavailable' when no connected peer holds it, or 'rejected' with `rule`
   * over a limit.
   */
  blob(uuid: string): Promise<Blob | null>;
  /** Deletes one of your records here and, as the deletion syncs, everywhere. */
  delete(uuid: string): Promise<void>;
  /**
   * Live records, newest first. `author` is an npub; `since` and `until` are
   * milliseconds like `createdAt` (inclusive); `limit` 0 or absent: all;
   * `oldest: true` lists oldest first.
   */
  query(q?: QueryOptions): Promise<PeersetRecord[]>;
  /**
   * Listens to events; returns the function that stops listening. Listeners
   * run asynchronously, after the change. 'peer' and 'sync' are polled about
   * every 500 ms.
   */
  on<K extends EventType>(event: K, cb: (e: EventMap[K]) => void): () => void;
  /** A snapshot for status displays. */
  stats(): Promise<Stats>;
  /** Leaves the room and closes the database. */
  close(): Promise<void>;
  /**
   * The peers known to hold the current version of a record (this node's
   * own version if it has one): peers that sent it here or were sent it
   * from here, and peers whose last announced root equals ours while we
   * hold it. Bounded: at most 64 peers per version. Rejects with code
   * 'not-found' for a record this node does not hold.
   */
  holders(uuid: string): Promise<Holders>;

  /**
   * Verifies, moderates and stores NIP-01 events exactly as if a peer had
   * sent them: the restore path of a backup made with `export()`. It
   * streams: events go to the engine in chunks of at most 1,000 events and
   * 1 MiB, one chunk at a time. A single bad event counts as `invalid` (or
   * `refused`), it does not throw; input that is not events at all rejects
   * with code 'invalid', a closed database with code 'closed'.
   */
  import(events: ImportInput, opts?: ImportOptions): Promise<ImportResult>;
  /**
   * Every live record and every kept deletion as NIP-01 events, oldest first,
   * read from the engine a page at a time (at most 500 events, about 1 MiB):
   * `for await (const e of db.export())` or `Array.fromAsync(db.export())`.
   * Records written while it runs may or may not be included.
   */
  export(): AsyncIterableIterator<NostrEvent>;
}

/** Opens (and, unless `offline`, joins) a room. */
export function open(opts: OpenOptions): Promise<DB>;
