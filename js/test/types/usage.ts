// A typed tour of the public API, checked by `tsc --strict` in make test
// (scripts/types-test.sh): what an application written in TypeScript does
// with peerset must compile against peerset.d.ts, and the @ts-expect-error
// lines must stay errors (literal unions, required fields). Never run.

import * as peerset from '../../peerset.js';
import type {
  AnnouncePhase, DB, ErrorCode, EventType, Holders, ImportResult, KeyPair, ModerationRule, Nip07Signer, NostrEvent,
  OpenOptions, PeersetError, PeersetRecord, PutInput, QueryOptions, RecordEvent, RejectEvent, SessionState, Stats,
  RelayState, RelayStatus, StorageKind, TrackerState, BlobEvent, BlobInfo,
} from '../../peerset.js';
import { exportEvents, importEvents } from '../../testing.js';

export async function tour(): Promise<void> {
  await peerset.initialize({ wasmURL: new URL('./peerset.wasm', import.meta.url), workerURL: '/peerset.worker.js', worker: true });
  const keys: KeyPair = await peerset.generateKey();
  const { npub, nsec } = keys;
  const version: string = peerset.version;

  const noShouting: ModerationRule = {
    name: 'no-shouting',
    check: (r) => (r.text && r.text === r.text.toUpperCase() && r.text.length > 10 ? 'no shouting' : true),
  };
  const options: OpenOptions = {
    room: 'typed',
    appId: 'tour',
    nsec,
    moderation: { preset: 'standard', badWords: ['spam'], allowLinkHosts: ['example.org'], quota: 10, retentionDays: 30, rules: [noShouting] },
    storage: 'memory',
    granularity: 'day',
    maxPeers: 8,
    session: { handshakeTimeout: 5000 },
    relays: ['wss://relay.example.org'],
  };
  const db: DB = await peerset.open(options);

  const input: PutInput = { text: 'hello', link: 'https://example.org/', geo: { lat: 1, lon: 2 } };
  const rec: PeersetRecord = await db.put(input);
  const again: PeersetRecord | null = await db.get(rec.uuid);
  const q: QueryOptions = { author: npub, limit: 20, oldest: false };
  const newest: PeersetRecord[] = await db.query(q);
  const held: Holders = await db.holders(rec.uuid);
  const s: Stats = await db.stats();
  const thread: 'worker' | 'page' = s.engine.thread;
  const storage: StorageKind = s.storage;
  const states: SessionState[] = s.sessions.map((p) => p.state);
  const trackers: [TrackerState, AnnouncePhase][] = s.trackers.map((t) => [t.state, t.phase]);
  if (states[0] === 'syncing' || trackers[0]?.[1] === 'dormant') console.log(s.engine.dataChannels.forwarded);
  const relays: RelayStatus[] = s.relays;
  const relayStates: RelayState[] = relays.map((r) => r.state);
  if (relayStates[0] === 'open') console.log(relays[0]?.received, relays[0]?.dropped, relays[0]?.lastError ?? '');
  const kind: EventType = 'sync';
  db.on(kind, (e) => console.log(e.progress));
  const heldCount: number | undefined = s.held[rec.uuid];

  const stop: () => void = db.on('record', (e: RecordEvent) => {
    if (e.overflow) {
      const missed: number = e.missed;
      console.log('query again', missed);
      return;
    }
    const n: number | undefined = e.heldBy;
    if (!e.removed) console.log(e.record.text, n);
  });
  db.on('reject', (e: RejectEvent) => console.log(e.rule, e.suppressed ?? 1));
  stop();

  // Files: put one, read it back as a Blob, follow fetches.
  const withFile: PeersetRecord = await db.put({ file: new Blob(['bytes'], { type: 'text/plain' }), text: 'a caption' });
  const info: BlobInfo | undefined = withFile.blob;
  if (info) console.log(info.sha256, info.size, info.type);
  await db.put({ file: new Uint8Array(8), type: 'application/octet-stream' });
  const file: Blob | null = await db.blob(withFile.uuid);
  console.log(file?.size);
  db.on('blob', (e: BlobEvent) => console.log(e.sha256, e.received / e.size, e.done, e.rule ?? ''));
  const unavailable: ErrorCode = 'unavailable';
  const blobOptions: OpenOptions = { room: 'files', maxBlobBytes: 1 << 20, blobQuotaAuthor: 8 << 20, blobQuotaRoom: 64 << 20, prefetchBelow: -1 };
  console.log(unavailable, blobOptions.room);

  const backup: NostrEvent[] = [];
  for await (const e of db.export()) backup.push(e);
  const restored: ImportResult = await db.import(backup, { onProgress: (p) => console.log(p.done, p.stored) });
  const byRule: Record<string, number> = restored.byRule;
  // The test hooks live in peerset/testing, not on the database.
  const hooked: ImportResult = await importEvents(db, backup);
  const everything: NostrEvent[] = await exportEvents(db);
  console.log(hooked.stored, everything.length);
  // @ts-expect-error the test hooks are not on DB
  await db._importEvents(backup);

  try {
    await db.delete(rec.uuid);
  } catch (err) {
    const e = err as PeersetError;
    const code: ErrorCode | undefined = e.code;
    if (code === 'rejected') console.log(e.rule, e.reason);
    if (code === 'not-found' || code === 'read-only' || code === 'signer') console.log(code);
  }

  const signer: Nip07Signer = {
    getPublicKey: async () => 'hex',
    signEvent: async (t) => ({ ...t, id: '', sig: '' }),
  };
  const reader = await peerset.open({ room: 'typed', signer, identity: 'ephemeral' });
  const readOnly: boolean = reader.readOnly;
  await reader.close();
  await db.close();

  // @ts-expect-error a room is required
  await peerset.open({ appId: 'x' });
  // @ts-expect-error moderation presets are a literal union
  await peerset.open({ room: 'r', moderation: 'lenient' });
  // @ts-expect-error identity is 'author' or 'ephemeral'
  await peerset.open({ room: 'r', identity: 'anonymous' });
  // @ts-expect-error error codes are a literal union
  const bad: ErrorCode = 'nope';
  // @ts-expect-error a session state is a literal union
  const state: SessionState = 'bored';
  // @ts-expect-error an announce phase is a literal union
  const phase: AnnouncePhase = 'sleepy';
  // @ts-expect-error query options are named fields
  await db.query({ newest: true });
  // @ts-expect-error storage is 'indexeddb' or 'memory'
  await peerset.open({ room: 'r', storage: 'localStorage' });

  console.log(version, again, newest, held, thread, heldCount, byRule, readOnly, bad, storage, state, phase);
}
