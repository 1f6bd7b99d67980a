import { readable } from 'svelte/store';
import { open } from 'peerset';

import { liveRecords } from '../../shared/live-records.js';
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
    const stops = [];
    setValue = update;

    // A store opens its room only once the previous opening of the same
    // options has closed, so the room is never open twice at once (a
    // component destroyed and created again, two stores of one room).
    const { previous, done: endTurn } = takeTurn(key);

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
      // The live records (examples/shared/live-records.js): followed
      // through 'record' events, read again whole after an overflow.
      const live = liveRecords(db, () => {
        if (active) update((v) => ({ ...v, records: live.records() }));
      });
      stops.push(live.stop);
      stops.push(db.on('peer', refreshStats));
      set({ ...idle, db });
      await live.ready;
      if (!active) return;
      update((v) => ({ ...v, records: live.records() }));
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
