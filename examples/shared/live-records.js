// The live set of a room's records that the React hook
// (examples/react/src/usePeerset.js) and the Svelte store
// (examples/svelte/src/peerset-store.js) share: it follows db.on('record')
// and reads the whole set with db.query({}) when it starts and whenever the
// engine says changes were dropped on their way to the page (an overflow).
// Plain JavaScript with no imports, like room-options.js.
//
// A read of the whole set takes a while, and changes keep arriving
// meanwhile: a change can reach the page before the read's result that
// missed it. So while a read runs, the changes that arrive are noted, and
// the result is corrected with them: a record removed meanwhile stays out,
// a record added meanwhile stays in. Records are keyed by event id: an
// update arrives as the new version added and the old one removed.

/**
 * liveRecords(db, onChange) follows db's records; onChange() is called
 * (at most every 30 ms) when they changed. It returns { ready, records(),
 * stop() }: ready settles once the first read of the whole set is in,
 * records() is the list, newest first, and stop() stops following.
 */
export function liveRecords(db, onChange) {
  const live = new Map();
  let reads = 0; // whole-set reads in flight
  const removedMeanwhile = new Set();
  const addedMeanwhile = new Map();
  let timer = null;
  let stopped = false;

  const changed = () => {
    timer ??= setTimeout(() => {
      timer = null;
      if (!stopped) onChange();
    }, 30);
  };

  const readAll = async () => {
    reads++;
    try {
      const all = await db.query({});
      if (stopped) return;
      live.clear();
      for (const r of all) if (!removedMeanwhile.has(r.id)) live.set(r.id, r);
      for (const [id, r] of addedMeanwhile) live.set(id, r);
      changed();
    } catch (err) {
      if (err?.code !== 'closed') throw err;
    } finally {
      if (--reads === 0) {
        removedMeanwhile.clear();
        addedMeanwhile.clear();
      }
    }
  };

  const stopListening = db.on('record', (e) => {
    if (e.overflow) {
      // Changes were dropped on their way to the page: read them all again.
      readAll().catch(() => {});
      return;
    }
    const { record, removed } = e;
    if (removed) {
      live.delete(record.id);
      if (reads > 0) {
        removedMeanwhile.add(record.id);
        addedMeanwhile.delete(record.id);
      }
    } else {
      live.set(record.id, record);
      if (reads > 0) addedMeanwhile.set(record.id, record);
    }
    changed();
  });

  return {
    ready: readAll(),
    records: () => [...live.values()].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1)),
    stop() {
      stopped = true;
      clearTimeout(timer);
      stopListening();
    },
  };
}
