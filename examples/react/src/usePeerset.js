import { useCallback, useEffect, useState } from 'react';
import { open } from 'peerset';

import { liveRecords } from '../../shared/live-records.js';
import { openOptions, optionsKey, takeTurn } from '../../shared/room-options.js';

const idle = { db: null, records: [], stats: null, error: null };

/**
 * usePeerset opens a peerset room while the component is mounted and closes
 * it on unmount (or when the options change).
 *
 * Returns { db, records, stats, error, put }:
 *   db       the open database, null until open
 *   records  the live records, newest first, kept current through 'record' events
 *   stats    db.stats(), refreshed every second and when peers come and go
 *   error    the Error that open() rejected with, if any
 *   put      put(text | recordInput) → Promise of the stored record
 */
export function usePeerset(options) {
  // Options are compared by value: a new object literal on every render
  // does not reopen the room.
  const key = optionsKey(options);
  const [state, setState] = useState(idle);

  useEffect(() => {
    let active = true;
    let db = null;
    let statsTimer = null;
    const stops = [];

    // An instance opens only once the previous instance with the same
    // options has closed. Under StrictMode React mounts, unmounts and mounts
    // again at once: the first instance gives up before opening, so the
    // room is opened once, and never twice at the same time.
    const { previous, done: endTurn } = takeTurn(key);

    const refreshStats = async () => {
      if (!active || !db || db.closed) return;
      try {
        const stats = await db.stats();
        if (active) setState((s) => ({ ...s, stats }));
      } catch (err) {
        if (active && err.code !== 'closed') setState((s) => ({ ...s, error: err }));
      }
    };

    const run = async () => {
      await previous;
      if (!active) return;
      setState(idle); // nothing of another room's
      db = await open(openOptions(key));
      if (!active) return; // the cleanup below closes it
      // The live records (examples/shared/live-records.js): followed
      // through 'record' events, read again whole after an overflow.
      const live = liveRecords(db, () => {
        if (active) setState((s) => ({ ...s, records: live.records() }));
      });
      stops.push(live.stop);
      stops.push(db.on('peer', refreshStats));
      setState({ ...idle, db });
      await live.ready;
      if (!active) return;
      setState((s) => ({ ...s, records: live.records() }));
      await refreshStats();
      statsTimer = setInterval(refreshStats, 1000);
    };

    const running = run().catch((err) => {
      if (active) setState({ ...idle, error: err });
    });

    return () => {
      active = false;
      for (const stop of stops) stop();
      clearInterval(statsTimer);
      running
        .then(() => db?.close())
        .catch(() => { /* closing is best effort */ })
        .finally(endTurn);
    };
  }, [key]);

  const { db } = state;
  const put = useCallback(async (input) => {
    if (!db) throw new Error('peerset: the room is not open yet');
    const record = await db.put(typeof input === 'string' ? { text: input } : input);
    db.stats().then((stats) => setState((s) => (s.db === db ? { ...s, stats } : s)), () => {});
    return record;
  }, [db]);

  return { ...state, put };
}
