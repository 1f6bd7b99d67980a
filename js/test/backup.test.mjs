// Backup and restore from JavaScript: db.export() and db.import(events).
// - export from a database in IndexedDB (records, new versions and
//   deletions), import into a fresh storage: 'memory' database: the same
//   events, the same records and the same root; export() pages (more
//   events than one page) and includes the deletions;
// - tampered events (broken signature, changed content) and things that
//   are not events count as invalid, moderation refusals as refused with
//   their rule in byRule; nothing throws for a single bad event;
// - an async iterable of 5,000 signed events (from js/test/seed) streams
//   in chunks, with progress, and gives the seeded root;
// - input that is not events at all rejects with code 'invalid', a closed
//   database with code 'closed';
// - the same round trip with the engine on the page (worker: false).
//
// Every database here is offline: no tracker, no peer.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import { runBinary, uniqueRoom, withEnv } from './lib/harness.mjs';

// apiPage opens a page with nothing but the API (window.peerset), the
// engine in a worker unless worker is false.
async function apiPage(env, label, { worker = true } = {}) {
  const { http } = await env.server();
  const context = await env.freshContext(http);
  const page = env.watch(await context.newPage(), label);
  await page.goto(`${http}/js/test/fixtures/stub.html`);
  await page.evaluate(async (worker) => {
    window.peerset = await import('/js/dist/peerset.js');
    await window.peerset.initialize({ worker });
  }, worker);
  return page;
}

// roundTrip runs in the page: a database in IndexedDB gets n records, some
// new versions and some deletions; its export is imported into a fresh
// memory database. Returns what both say.
async function roundTrip(page, { room, n, updates, deletions }) {
  return page.evaluate(async ({ room, n, updates, deletions }) => {
    const { peerset } = window;
    const a = await peerset.open({ room, offline: true, moderation: 'open', databaseName: `${room}-a` });
    const uuids = [];
    for (let i = 0; i < n; i++) uuids.push((await a.put({ text: `record #${i}`, geo: i % 3 ? undefined : { lat: 1 + i / 1000, lon: 2 } })).uuid);
    await a.put({ data: new Uint8Array([0, 1, 2, 254, 255]), mediaType: 'application/octet-stream' });
    for (const u of uuids.slice(0, updates)) await a.put({ uuid: u, text: 'a newer version' });
    for (const u of uuids.slice(updates, updates + deletions)) await a.delete(u);

    const events = [];
    for await (const e of a.export()) events.push(e);
    const fromAsync = await Array.fromAsync(a.export());
    const aStats = await a.stats();

    const b = await peerset.open({ room, offline: true, moderation: 'open', storage: 'memory' });
    const progress = [];
    const imported = await b.import(events, { onProgress: (p) => progress.push(p) });
    const bStats = await b.stats();
    const back = await Array.fromAsync(b.export());
    const binary = (await b.query({})).find((r) => r.data instanceof Uint8Array);
    const updated = await b.get(uuids[0]);
    const deleted = await b.get(uuids[updates]);
    await a.close();
    await b.close();
    return {
      events, fromAsyncIds: fromAsync.map((e) => e.id), imported, progress,
      a: { records: aStats.records, deletions: aStats.deletions, root: aStats.root },
      b: { records: bStats.records, deletions: bStats.deletions, root: bStats.root },
      backIds: back.map((e) => e.id),
      binary: binary ? [...binary.data] : null,
      updatedText: updated?.text, deletedGone: deleted === null,
    };
  }, { room, n, updates, deletions });
}

function checkRoundTrip(r, { n, deletions }) {
  const live = n + 1 - deletions;
  assert.equal(r.a.records, live, 'the source holds its live records');
  assert.equal(r.a.deletions, deletions, 'and its deletions');
  assert.equal(r.events.length, live + deletions, 'export() gives every live record and every kept deletion');
  assert.equal(r.events.filter((e) => e.kind === 5).length, deletions, 'export() includes the deletions (kind 5)');
  for (const e of r.events) {
    assert.match(e.id, /^[0-9a-f]{64}$/);
    assert.match(e.sig, /^[0-9a-f]{128}$/);
    assert.equal(typeof e.created_at, 'number');
  }
  assert.deepEqual(r.fromAsyncIds, r.events.map((e) => e.id), 'Array.fromAsync(db.export()) gives the same events');
  assert.deepEqual(r.imported, { stored: r.events.length, refused: 0, invalid: 0, byRule: {} }, 'every exported event is stored again');
  assert.equal(r.b.records, live);
  assert.equal(r.b.deletions, deletions);
  assert.equal(r.b.root, r.a.root, 'the restored database has the same root');
  assert.deepEqual(new Set(r.backIds), new Set(r.events.map((e) => e.id)), 'and exports the same events');
  assert.deepEqual(r.binary, [0, 1, 2, 254, 255], 'a binary record survives the round trip');
  assert.equal(r.updatedText, 'a newer version', 'the newest version is the live one');
  assert.equal(r.deletedGone, true, 'a deleted record stays deleted');
  assert.ok(r.progress.length >= 1, 'onProgress was called');
  assert.equal(r.progress.at(-1).done, r.events.length, 'the last progress counts every event');
}

test('export() from IndexedDB, import() into a fresh memory database: same records, same root, deletions included', { timeout: 240_000 }, withEnv(async (env, t) => {
  const page = await apiPage(env, 'backup');
  const n = 620;
  const deletions = 15;
  const r = await roundTrip(page, { room: uniqueRoom('backup'), n, updates: 10, deletions });
  t.diagnostic(`${r.events.length} events exported, imported: ${JSON.stringify(r.imported)}, root ${r.b.root}`);
  checkRoundTrip(r, { n, deletions });
  assert.ok(r.events.length > 500, 'more events than one export page (500)');
}));

test('import(): tampered events and non-events count as invalid, moderation refusals as refused by rule', { timeout: 120_000 }, withEnv(async (env, t) => {
  const page = await apiPage(env, 'tampered');
  const room = uniqueRoom('tampered');
  const r = await page.evaluate(async (room) => {
    const { peerset } = window;
    const src = await peerset.open({ room, offline: true, moderation: 'open', storage: 'memory' });
    for (let i = 0; i < 3; i++) await src.put({ text: `fine record ${i}` });
    await src.put({ text: 'what an asshole' });
    const events = await Array.fromAsync(src.export());
    await src.close();
    const fine = events.filter((e) => !e.content.includes('asshole'));
    const bad = events.find((e) => e.content.includes('asshole'));
    const flip = (hex) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

    const strict = await peerset.open({ room, offline: true, storage: 'memory' }); // the standard preset: bad words refused
    const tampered = [
      { ...fine[0], sig: flip(fine[0].sig) }, // a broken signature
      { ...fine[1], content: 'changed after signing' }, // the id no longer matches
      { ...fine[2], id: flip(fine[2].id) }, // an id that is not the hash
    ];
    const notEvents = [42, null, 'not json at all', [1, 2], { hello: 'world' }];
    const first = await strict.import([...tampered, ...notEvents, bad, ...fine]);
    const again = await strict.import(fine);
    // (a tampered copy of an id already held is refused as a duplicate
    // before any check: the one with a changed id is not held)
    const lines = await strict.import(`${JSON.stringify(tampered[2])}\n\n{"broken json\n`);
    const st = await strict.stats();
    const held = (await strict.query({})).map((x) => x.text).sort();
    await strict.close();
    return { first, again, lines, records: st.records, held };
  }, room);
  t.diagnostic(`first import ${JSON.stringify(r.first)}; again ${JSON.stringify(r.again)}; JSON lines ${JSON.stringify(r.lines)}`);
  assert.equal(r.first.stored, 3, 'the three intact records are stored');
  assert.equal(r.first.invalid, 3 + 5, 'three tampered events and five non-events are invalid');
  assert.equal(r.first.byRule.integrity, 3, 'tampered events fail the integrity rule');
  assert.equal(r.first.byRule.parse, 5, 'non-events count under parse');
  assert.equal(r.first.refused, 1, 'the bad word is refused');
  assert.equal(r.first.byRule['bad-words'], 1, 'by the bad-words rule');
  assert.equal(r.again.stored, 0, 'importing the same records again stores nothing');
  assert.equal(r.again.refused, 3, 'they are refused as already held');
  assert.equal(r.again.invalid, 0);
  assert.deepEqual(r.lines, { stored: 0, refused: 0, invalid: 2, byRule: { integrity: 1, parse: 1 } }, 'JSON lines: one tampered event, one broken line, the empty line skipped');
  assert.equal(r.records, 3);
  assert.deepEqual(r.held, ['fine record 0', 'fine record 1', 'fine record 2']);
}));

test('import() streams an async iterable of 5,000 signed events in chunks, with progress', { timeout: 240_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('stream');
  const dir = await env.tempDir();
  const jsonFile = path.join(dir, 'events.json');
  const seeded = JSON.parse(runBinary('seed', ['--db', path.join(dir, 'seed.db'), '--room', room, '--count', '5000', '--authors', '20', '--json-out', jsonFile], { timeout: 120_000 }).trim().split('\n').at(-1));
  const lines = JSON.parse(await readFile(jsonFile, 'utf8')).map((e) => JSON.stringify(e)).join('\n');
  const page = await apiPage(env, 'stream');
  const r = await page.evaluate(async ({ room, lines }) => {
    const db = await window.peerset.open({ room, offline: true, moderation: 'open', storage: 'memory' });
    let pulled = 0;
    // An async source, as a file or a network stream would be: events parsed
    // as they are pulled.
    async function* source() {
      for (const line of lines.split('\n')) {
        pulled++;
        if (pulled % 250 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
        yield JSON.parse(line);
      }
    }
    const progress = [];
    const pulledAtProgress = [];
    const imported = await db.import(source(), {
      onProgress: (p) => { progress.push(p); pulledAtProgress.push(pulled); },
    });
    const st = await db.stats();
    const exported = await Array.fromAsync(db.export());
    let aborted = null;
    const controller = new AbortController();
    try {
      await db.import(source(), { signal: controller.signal, onProgress: () => controller.abort() });
    } catch (err) {
      aborted = err.name;
    }
    await db.close();
    return { imported, progress, pulledAtProgress, records: st.records, root: st.root, exported: exported.length, aborted };
  }, { room, lines });
  t.diagnostic(`seeded ${JSON.stringify(seeded)}; imported ${JSON.stringify(r.imported)} with ${r.progress.length} progress calls`);
  assert.deepEqual(r.imported, { stored: 5000, refused: 0, invalid: 0, byRule: {} });
  assert.equal(r.records, 5000);
  assert.equal(r.root.toLowerCase(), String(seeded.root).toLowerCase(), 'the root of the seeded set');
  assert.equal(r.exported, 5000);
  assert.ok(r.progress.length >= 5, `5,000 events go in chunks of at most 1,000: ${r.progress.length} progress calls`);
  for (let i = 1; i < r.progress.length; i++) assert.ok(r.progress[i].done > r.progress[i - 1].done, 'progress grows');
  assert.equal(r.progress.at(-1).done, 5000);
  // Streaming: the first chunk was answered before the source was read to
  // its end (at most one chunk in flight and one being gathered).
  assert.ok(r.pulledAtProgress[0] <= 2 * 1000 + 1, `the first chunk was done after ${r.pulledAtProgress[0]} events had been pulled`);
  assert.equal(r.aborted, 'AbortError', 'an aborted import rejects with the signal\'s reason');
}));

test('import() and export(): input that is not events rejects with code invalid, a closed database with code closed', { timeout: 90_000 }, withEnv(async (env) => {
  const page = await apiPage(env, 'errors');
  const r = await page.evaluate(async (room) => {
    const db = await window.peerset.open({ room, offline: true, storage: 'memory' });
    const outcome = async (fn) => {
      try {
        return { ok: true, v: await fn() };
      } catch (err) {
        return { ok: false, code: err.code, message: err.message, isError: err instanceof Error };
      }
    };
    const out = {
      number: await outcome(() => db.import(42)),
      nothing: await outcome(() => db.import()),
      oneEvent: await outcome(() => db.import({ id: 'x', pubkey: 'y', kind: 1, tags: [], content: '', sig: 'z', created_at: 1 })),
      brokenArray: await outcome(() => db.import('[{"id": ')),
      empty: await outcome(() => db.import([])),
      emptyLines: await outcome(() => db.import('')),
      badProgress: await outcome(() => db.import([], { onProgress: 5 })),
    };
    await db.close();
    out.closedImport = await outcome(() => db.import([]));
    out.closedExport = await outcome(() => Array.fromAsync(db.export()));
    return out;
  }, uniqueRoom('errors'));
  for (const k of ['number', 'nothing', 'oneEvent', 'brokenArray', 'badProgress']) {
    assert.equal(r[k].ok, false, `${k}: rejects`);
    assert.equal(r[k].isError, true, `${k}: with an Error`);
    assert.equal(r[k].code, 'invalid', `${k}: code invalid (${r[k].message})`);
  }
  assert.match(r.oneEvent.message, /db\.import\(\[event\]\)/, 'the message says how to import one event');
  assert.deepEqual(r.empty.v, { stored: 0, refused: 0, invalid: 0, byRule: {} });
  assert.deepEqual(r.emptyLines.v, { stored: 0, refused: 0, invalid: 0, byRule: {} });
  for (const k of ['closedImport', 'closedExport']) {
    assert.equal(r[k].ok, false, `${k}: rejects`);
    assert.equal(r[k].code, 'closed', `${k}: code closed (${r[k].message})`);
  }
}));

test('export() and import() with the engine on the page (worker: false)', { timeout: 180_000 }, withEnv(async (env) => {
  const page = await apiPage(env, 'on the page', { worker: false });
  const n = 40;
  const deletions = 4;
  const r = await roundTrip(page, { room: uniqueRoom('backup-page'), n, updates: 3, deletions });
  checkRoundTrip(r, { n, deletions });
  assert.equal(await page.evaluate(() => typeof globalThis.__peersetEngine), 'object', 'the engine runs on the page');
}));
