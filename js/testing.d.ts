// Types of peerset/testing (testing.js): hooks for tests and benchmarks,
// NOT part of peerset's API; they may change in any release.

import type { DB, ImportResult, NostrEvent, OpenOptions } from './peerset.js';

/**
 * Ingests signed NIP-01 events (an array, or its JSON text) in one engine
 * call, as `db.import()` does in chunks.
 */
export function importEvents(db: DB, events: NostrEvent[] | string): Promise<ImportResult>;

/** Every live event of `db` (records and kept deletions), in one engine call. */
export function exportEvents(db: DB): Promise<NostrEvent[]>;

/**
 * The page side of a forwarded data channel: relays `dc` over `port`
 * (unit tests of the forwarding bounds).
 */
export function forwardChannel(
  dc: RTCDataChannel,
  port: MessagePort,
  limits?: { maxBytes?: number; maxStall?: number },
): () => void;

/** The page's WebRTC service for the engine (unit tests). */
export const RTCService: new (transfer?: boolean) => unknown;

/**
 * What `open(opts)` would send to the engine (options checked, custom rules
 * reduced to their names, `signer: true`, one `maxPeers`), without starting
 * it; throws what `open()` would reject with.
 */
export function openOptions(opts: OpenOptions): Record<string, unknown>;
