// Issue 10, custom moderation from JavaScript: open({ moderation: { rules:
// [{ name, check }] } }). check runs on the page (the engine asks it, a
// batch per round trip). A refused put rejects with err.rule = the rule's
// name; a peer's record the rule refuses shows up as a 'reject' event with
// that rule and is never stored; a rule that throws refuses with the
// error's message; bad rule names are refused with code 'invalid'. Both
// with the engine in a worker and on the page (worker: false).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { uniqueRoom, waitFor, withEnv } from './lib/harness.mjs';
import { dbStats, openAPIPage, tryPut, waitPeers, waitRecord } from './lib/api.mjs';

// openWithRules opens window.db on the page with two custom rules, and
// collects its 'reject' events in window.__rejects.
function openWithRules(page, room) {
  return page.evaluate(async (room) => {
    window.__rejects = [];
    window.db = await window.openRoom({
      room,
      moderation: {
        preset: 'open',
        rules: [
          { name: 'no-shouting', check: (r) => !(r.text && r.text.length > 3 && r.text === r.text.toUpperCase()) || 'no shouting, please' },
          { name: 'throws', check: (r) => { if ((r.text || '').includes('boom')) throw new Error('cannot handle boom'); return true; } },
        ],
      },
    });
    window.db.on('reject', (e) => window.__rejects.push(JSON.parse(JSON.stringify(e))));
  }, room);
}

test('custom rules refuse local puts and peers\' records by name (engine in a worker and on the page)', { timeout: 240_000 }, withEnv(async (env, t) => {
  const room = uniqueRoom('custom-rules');
  const inWorker = await openAPIPage(env, { label: 'rules, engine in a worker' });
  const onPage = await openAPIPage(env, { label: 'rules, engine on the page', worker: false });
  const plain = await openAPIPage(env, { label: 'no custom rules' });
  await openWithRules(inWorker, room);
  await openWithRules(onPage, room);
  await plain.evaluate((room) => window.openRoom({ room }).then((db) => { window.db = db; }), room);

  for (const [label, page] of [['worker', inWorker], ['page', onPage]]) {
    const engine = (await dbStats(page)).engine.thread;
    assert.equal(engine, label, `the engine runs in the ${label}`);
    const shout = await tryPut(page, { text: 'HELLO EVERYONE' });
    assert.equal(shout.ok, false, `${label}: a shouting put is refused`);
    assert.equal(shout.isError, true);
    assert.equal(shout.code, 'rejected', `${label}: err.code (${shout.message})`);
    assert.equal(shout.rule, 'no-shouting', `${label}: err.rule`);
    assert.equal(shout.reason, 'no shouting, please', `${label}: err.reason is the rule's answer`);
    const boom = await tryPut(page, { text: 'a boom here' });
    assert.equal(boom.rule, 'throws', `${label}: a throwing rule refuses (${boom.message})`);
    assert.equal(boom.code, 'rejected');
    assert.match(boom.reason, /cannot handle boom/, `${label}: with the error's message`);
    const fine = await tryPut(page, { text: `quiet words from the ${label}` });
    assert.ok(fine.ok, `${label}: an ordinary put passes the rules: ${JSON.stringify(fine)}`);
    t.diagnostic(`${label}: refused ${shout.rule} "${shout.reason}", ${boom.rule} "${boom.reason}"`);
  }

  // The peer without the rules writes what the rules refuse.
  const loud = await tryPut(plain, { text: 'SHOUTING FROM A PEER' });
  const quiet = await tryPut(plain, { text: 'quiet words from a peer' });
  assert.ok(loud.ok && quiet.ok, 'the peer without custom rules stores both');
  await waitPeers([inWorker, onPage, plain], 2);
  for (const [label, page] of [['worker', inWorker], ['page', onPage]]) {
    await waitRecord(page, quiet.record.uuid, `${label}: the peer's quiet record to arrive`);
    const rejects = await waitFor(`${label}: a reject event of rule no-shouting for the peer's loud record`, async () => {
      const got = (await page.evaluate(() => window.__rejects)).filter((r) => r.rule === 'no-shouting' && r.uuid === loud.record.uuid);
      return got.length > 0 && got;
    }, { timeout: 30_000, state: () => page.evaluate(() => window.__rejects) });
    assert.equal(rejects[0].author, loud.record.author, `${label}: the reject event names the author`);
    assert.equal(rejects[0].reason, 'no shouting, please');
    assert.equal(await page.evaluate((u) => window.db.get(u), loud.record.uuid), null, `${label}: the loud record is not stored`);
    const texts = await page.evaluate(async () => (await window.db.query({})).map((r) => r.text));
    assert.ok(!texts.includes('SHOUTING FROM A PEER'), `${label}: query() never returns it: ${JSON.stringify(texts)}`);
    const s = await dbStats(page);
    const withPlain = s.sessions.find((x) => x.authenticated && x.pubkey === loud.record.author);
    assert.ok(withPlain?.rulesDiffer, `${label}: stats() says the rules differ from the peer without them: ${JSON.stringify(s.sessions.map((x) => ({ pubkey: x.pubkey, rulesDiffer: x.rulesDiffer })))}`);
  }
  // The two pages with the same rules agree.
  const a = await dbStats(inWorker);
  const b = await dbStats(onPage);
  assert.ok(!a.sessions.find((x) => x.pubkey === b.key)?.rulesDiffer, 'pages with the same rules see no difference');
}));

test('custom rule names are checked: non-empty, unique, not a built-in name; check must be a function', { timeout: 60_000 }, withEnv(async (env) => {
  const page = await openAPIPage(env, { label: 'bad rules' });
  const results = await page.evaluate(async () => {
    const ok = () => true;
    const cases = {
      empty: [{ name: '', check: ok }],
      builtin: [{ name: 'bad-words', check: ok }],
      duplicate: [{ name: 'mine', check: ok }, { name: 'mine', check: ok }],
      noCheck: [{ name: 'mine' }],
      notArray: { name: 'mine', check: ok },
    };
    const out = {};
    for (const [k, rules] of Object.entries(cases)) {
      try {
        const db = await window.peerset.open({ room: `bad-${k}`, offline: true, storage: 'memory', moderation: { rules } });
        await db.close();
        out[k] = { opened: true };
      } catch (err) {
        out[k] = { code: err.code, message: err.message };
      }
    }
    return out;
  });
  for (const [k, r] of Object.entries(results)) {
    assert.equal(r.code, 'invalid', `${k}: open() rejects with code 'invalid': ${JSON.stringify(r)}`);
    assert.ok(r.message.length > 20, `${k}: the message says what is wrong: ${r.message}`);
  }
  assert.match(results.builtin.message, /built-in/);
  assert.match(results.duplicate.message, /unique/);
}));
