import { readable } from 'svelte/store';
import { open } from 'peerset';

import { openOptions, optionsKey, takeTurn } from '../../shared/room-options.js';

const idle = { db: null, records: [], stats: null, error: null };

/**
 * peersetStore opens a peerset room while the store has subscribers and
 * closes it when the last one unsubscribes (e.g. the component using
 * `$store` is destroyed).
 *
 * Its value is { db, records, stats, error }:
 *   db       the open database, null until open
 *   records  the live records, newest first, kept current through 'record' events
 *   stats    db.stats(), refreshed every second and when peers come and go
 *   error    the Error that open() rejected with, if any
 * and store.put(text | recordInput) resolves to the stored record.
 */
export function peersetStore(options) {
  const key = optionsKey(options);
  let current = null; // the open database while subscribed
  let setValue = null;

  const store = readable(idle, (set, update) => {
    let active = true;
    let db = null;
    let statsTimer = null;
    let flushTimer = null;
    const stops = [];
    setValue = update;

    // A store opens its room only once the previous opening of the same
    // options has closed, so the room is never open twice at once (a
    // component destroyed and created again, two stores of one room).
    const { previous, done: endTurn } = takeTurn(key);

    // The live records by event id: an update arrives as the new version
    // added and the old one removed, each with its own id.
    const live = new Map();
    let seeding = true;
    const removedWhileSeeding = new Set();

    const flush = () => {
      flushTimer = null;
      if (!active) return;
      const records = [...live.values()].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
      update((v) => ({ ...v, records }));
    };
    const scheduleFlush = () => {
      flushTimer ??= setTimeout(flush, 30);
    };
    const refreshStats = async () => {
      if (!active || !db || db.closed) return;
      try {
        const stats = await db.stats();
        if (active) update((v) => ({ ...v, stats }));
      } catch (err) {
        if (active && err.code !== 'closed') update((v) => ({ ...v, error: err }));
      }
    };

    const run = async () => {
      await previous;
      if (!active) return;
      db = await open(openOptions(key));
      if (!active) return; // the stop function below closes it
      current = db;
      stops.push(db.on('record', ({ record, removed, overflow }) => {
        if (overflow) {
          // Changes were dropped on their way to the page: read them all again.
          db.query({}).then((all) => {
            live.clear();
            for (const r of all) live.set(r.id, r);
            scheduleFlush();
          }, () => {});
          return;
        }
        if (removed) {
          live.delete(record.id);
          if (seeding) removedWhileSeeding.add(record.id);
        } else {
          live.set(record.id, record);
        }
        scheduleFlush();
      }));
      stops.push(db.on('peer', refreshStats));
      set({ ...idle, db });
      const existing = await db.query({});
      if (!active) return;
      for (const record of existing) {
        if (!removedWhileSeeding.has(record.id) && !live.has(record.id)) live.set(record.id, record);
      }
      seeding = false;
      removedWhileSeeding.clear();
      flush();
      await refreshStats();
      statsTimer = setInterval(refreshStats, 1000);
    };

    const running = run().catch((err) => {
      if (active) set({ ...idle, error: err });
    });

    return () => {
      active = false;
      if (current === db) current = null;
      setValue = null;
      for (const stop of stops) stop();
      clearInterval(statsTimer);
      clearTimeout(flushTimer);
      set(idle);
      running
        .then(() => db?.close())
        .catch(() => { /* closing is best effort */ })
        .finally(endTurn);
    };
  });

  return {
    subscribe: store.subscribe,
    async put(input) {
      const db = current;
      if (!db) throw new Error('peerset: the room is not open yet (subscribe to the store first)');
      const record = await db.put(typeof input === 'string' ? { text: input } : input);
      db.stats().then((stats) => { if (current === db) setValue?.((v) => ({ ...v, stats })); }, () => {});
      return record;
    },
  };
}
