// peerset/testing: hooks for tests and benchmarks, NOT part of peerset's
// API (they may change in any release). Import it beside peerset itself:
//
//   import { open } from 'peerset';
//   import { importEvents } from 'peerset/testing';
//   const db = await open({ room: 'bench', offline: true, storage: 'memory' });
//   const { stored } = await importEvents(db, events);
//
// The types are in testing.d.ts.
import { open } from './peerset.js';

const TESTING = Symbol.for('peerset.testing');

function hooks(db, name) {
  const call = db?.[TESTING];
  if (typeof call !== 'function') {
    throw new TypeError(`peerset/testing: ${name}(db, ...) needs a database from peerset's open()`);
  }
  return (method, args) => call.call(db, method, args);
}

/**
 * Ingests signed NIP-01 events (an array, or its JSON text) in one engine
 * call, as db.import() does in chunks: verified, moderated and stored as if
 * a peer had sent them. Resolves to { stored, refused, invalid, byRule }.
 */
export async function importEvents(db, events) {
  const call = hooks(db, 'importEvents');
  return JSON.parse(await call('_importEvents', [typeof events === 'string' ? events : JSON.stringify(events)]));
}

/** Every live event of db (records and kept deletions), in one engine call. */
export async function exportEvents(db) {
  const call = hooks(db, 'exportEvents');
  return JSON.parse(await call('_exportEvents'));
}

const internals = open[TESTING];

/**
 * The page side of a forwarded data channel (unit tests): relays dc over
 * port with the byte and stall bounds of peerset.js.
 */
export const forwardChannel = internals.forwardChannel;

/** The page's WebRTC service for the engine (unit tests). */
export const RTCService = internals.RTCService;

/**
 * What open(opts) would send to the engine (the options checked, custom
 * rules reduced to their names, signer: true, one maxPeers), without
 * starting it; throws what open() would reject with.
 */
export function openOptions(opts) {
  return internals.openOptions(opts).sent;
}
