// Records created and verified per second: Go natively, Go as js/wasm under
// Node, and the JS libraries Nostr clients use (nostr-tools, noble-curves)
// measured in this same run. Prints a markdown table with ratios.
// Usage (from the repository root): node interop/node/bench-records.mjs
import { spawnSync } from 'node:child_process';
import { finalizeEvent, verifyEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import os from 'node:os';

const benchTime = process.env.BENCHTIME || '2s';
const seconds = parseFloat(benchTime) || 2;

function opsPerSecond(fn) {
  for (let i = 0; i < 20; i++) fn(); // warm up
  let n = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) { for (let i = 0; i < 10; i++) fn(); n += 10; }
  return n / ((performance.now() - start) / 1000);
}

const sk = generateSecretKey();
const template = () => ({
  kind: 30078, created_at: 1700000000,
  tags: [['d', crypto.randomUUID()], ['room', 'a'.repeat(64)], ['r', 'https://example.org/a']],
  content: 'peerset '.repeat(25),
});
const signed = JSON.stringify(finalizeEvent(template(), sk));
const ev = JSON.parse(signed);
const id = hexToBytes(ev.id), sig = hexToBytes(ev.sig), pub = hexToBytes(ev.pubkey);

function jsBench() {
  process.stderr.write('measuring nostr-tools and noble in Node...\n');
  return {
    Create: opsPerSecond(() => finalizeEvent(template(), sk)),
    VerifyJSON: opsPerSecond(() => { if (!verifyEvent(JSON.parse(signed))) throw new Error('verify failed'); }),
    VerifySignature: opsPerSecond(() => { if (!schnorr.verify(sig, id, pub)) throw new Error('verify failed'); }),
  };
}

function goBench(wasm) {
  const env = { ...process.env };
  const args = ['test', '-run', '^$', '-bench', '^Benchmark(Create|VerifyJSON|VerifySignature)$', '-benchtime', benchTime, './pkg/record'];
  if (wasm) {
    env.GOOS = 'js'; env.GOARCH = 'wasm';
    const goroot = spawnSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).stdout.trim();
    args.splice(1, 0, `-exec=${goroot}/lib/wasm/go_js_wasm_exec`);
  }
  process.stderr.write(`running go ${args.join(' ')}${wasm ? ' (js/wasm)' : ''}...\n`);
  const r = spawnSync('go', args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`go test -bench failed:\n${r.stdout}\n${r.stderr}`);
  const out = {};
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/^Benchmark(\w+?)(-\d+)?\s+\d+\s+[\d.]+ ns\/op\s+([\d.]+) records\/s/);
    if (m) out[m[1]] = parseFloat(m[3]);
  }
  for (const k of ['Create', 'VerifyJSON', 'VerifySignature']) if (!(k in out)) throw new Error(`no result for Benchmark${k} in:\n${r.stdout}`);
  return out;
}
// Interleave the three runtimes and take per-metric medians, so that load
// from other processes affects all of them alike.
const rounds = parseInt(process.env.ROUNDS || '3', 10);
const runs = { js: [], native: [], wasm: [] };
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  runs.js.push(jsBench());
  runs.native.push(goBench(false));
  runs.wasm.push(goBench(true));
}
const median = list => Object.fromEntries(Object.keys(list[0]).map(k => {
  const v = list.map(x => x[k]).sort((a, b) => a - b);
  return [k, v[Math.floor(v.length / 2)]];
}));
const js = median(runs.js), native = median(runs.native), wasm = median(runs.wasm);

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const f = x => Math.round(x).toLocaleString('en-US');
const rows = [
  ['create + sign a record', 'nostr-tools finalizeEvent', js.Create, native.Create, wasm.Create],
  ['verify a record from JSON (parse, id, signature)', 'nostr-tools verifyEvent', js.VerifyJSON, native.VerifyJSON, wasm.VerifyJSON],
  ['BIP-340 signature check only', 'noble schnorr.verify', js.VerifySignature, native.VerifySignature, wasm.VerifySignature],
];
console.log(`Records per second (${os.cpus().length} × ${cpu}, Node ${process.version}, benchtime ${benchTime}, median of ${rounds} interleaved rounds)\n`);
console.log('| operation | JS baseline | JS ops/s | Go native ops/s | Go js/wasm ops/s | js/wasm ÷ JS |');
console.log('|---|---|---|---|---|---|');
for (const [op, lib, j, n, w] of rows) console.log(`| ${op} | ${lib} | ${f(j)} | ${f(n)} | ${f(w)} | **${(w / j).toFixed(1)}×** |`);
console.log('\nGo verify also checks limits, record structure and the room tag; nostr-tools checks id and signature only.');
