// The harness's own check, independent of peerset: two tabs of headless
// Chromium connect an RTCPeerConnection over loopback in this network
// namespace and exchange a message on a data channel. If this fails, the
// browser setup is at fault (flags, permissions, namespace), not peerset.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { repoRoot, serveStatic, waitFor, withEnv } from './lib/harness.mjs';

test('two tabs connect a data channel over loopback (harness self-check)', withEnv(async (env) => {
  const server = await serveStatic(path.join(repoRoot, 'js', 'test', 'fixtures'));
  env.closers.push(server.close);
  const url = `${server.url}/stub.html`;
  const [a, b] = await Promise.all([1, 2].map(async (i) => {
    const context = await env.freshContext(server.url);
    const page = env.watch(await context.newPage(), `stub ${i}`);
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    return page;
  }));

  const offer = await a.evaluate(() => window.makeOffer());
  assert.ok(offer.candidates.length > 0, 'the offering tab gathered no ICE candidates: Chromium needs --allow-loopback-in-peer-connection and a camera/microphone grant');
  assert.ok(offer.candidates.every((c) => / 127\.0\.0\.1 | ::1 /.test(c)),
    `only loopback candidates were expected inside the namespace, got:\n${offer.candidates.join('\n')}`);
  const answer = await b.evaluate((o) => window.answerOffer(o), offer.sdp);
  await a.evaluate((ans) => window.acceptAnswer(ans), answer.sdp);

  await waitFor('both data channels to open', async () => (await a.evaluate(() => document.body.dataset.open)) === '1' && (await b.evaluate(() => document.body.dataset.open)) === '1', { timeout: 15_000 });
  await a.evaluate(() => window.send('ping from a'));
  await b.evaluate(() => window.send('pong from b'));
  await waitFor('the messages to cross', async () => (await b.evaluate(() => window.received)).includes('ping from a') && (await a.evaluate(() => window.received)).includes('pong from b'), { timeout: 10_000 });
}));
