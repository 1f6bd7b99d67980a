// The npm package as it would be published (make test-pack, after make
// build and scripts/build-wasm.sh): `npm pack --dry-run` lists exactly the
// intended files (a missing or an extra file fails), every `exports`
// target is packed, the version is one across the repository's VERSION
// file, js/package.json, the built shim (ES module and <script> build) and
// the Go binary (`peerset version`, `--version`), the public module carries
// no test hooks and `peerset/testing` does, and the licences ship.
//
//   PEERSET_BIN=bin/peerset node --test js/test/package-contents.mjs
//
// Runs in Node, no browser and no network (npm pack reads js/ only).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const js = path.join(root, 'js');
const dist = path.join(js, 'dist');

// What the package ships, and nothing else.
const expected = [
  'README.md',
  'dist/CHANGELOG.md',
  'dist/LICENSE',
  'dist/THIRD_PARTY_NOTICES.md',
  'dist/peerset.d.ts',
  'dist/peerset.global.js',
  'dist/peerset.js',
  'dist/peerset.wasm',
  'dist/peerset.worker.js',
  'dist/testing.d.ts',
  'dist/testing.js',
  'dist/wasm_exec.js',
  'package.json',
];

const version = readFileSync(path.join(root, 'VERSION'), 'utf8').trim();
const manifest = JSON.parse(readFileSync(path.join(js, 'package.json'), 'utf8'));

function packedFiles() {
  if (!existsSync(path.join(dist, 'peerset.wasm'))) {
    throw new Error('js/dist is not built: run scripts/build-wasm.sh (make test-pack does)');
  }
  let out;
  try {
    out = execFileSync('npm', ['pack', '--dry-run', '--json', '--offline', '--no-update-notifier'], { cwd: js, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`npm pack --dry-run in js/ failed (npm needs Node.js 20+ with npm): ${err.stderr || err.message}`);
  }
  const [info] = JSON.parse(out.slice(out.indexOf('[')));
  return { info, files: info.files.map((f) => f.path).sort() };
}

test('npm pack lists exactly the intended files', () => {
  const { files } = packedFiles();
  const missing = expected.filter((f) => !files.includes(f));
  const extra = files.filter((f) => !expected.includes(f));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] },
    `js/package.json "files" (or the build) ships the wrong set: missing ${missing.join(', ') || 'none'}; extra ${extra.join(', ') || 'none'}`);
});

test('every exports target, main, types and sideEffects entry is packed', () => {
  const { files } = packedFiles();
  const targets = [];
  const walk = (v) => {
    if (typeof v === 'string') targets.push(v);
    else for (const x of Object.values(v)) walk(x);
  };
  walk(manifest.exports);
  targets.push(manifest.main, manifest.types, manifest.module, ...manifest.sideEffects);
  for (const t of targets) {
    assert.ok(files.includes(t.replace(/^\.\//, '')), `${t} (js/package.json) is not in the packed files`);
  }
  for (const sub of ['.', './testing', './peerset.wasm', './peerset.worker.js', './wasm_exec.js', './global']) {
    assert.ok(manifest.exports[sub], `js/package.json exports lacks ${sub}`);
  }
  assert.equal(manifest.exports['./testing'].types, './dist/testing.d.ts');
  assert.equal(manifest.license, 'MIT');
  assert.match(manifest.repository?.url ?? '', /peerset/);
});

test('one version: VERSION, js/package.json, the built shim and the Go binary', async () => {
  assert.match(version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, `VERSION holds ${JSON.stringify(version)}`);
  assert.equal(manifest.version, version, `js/package.json has version ${manifest.version}, VERSION ${version}`);
  const { info } = packedFiles();
  assert.equal(info.version, version);
  assert.equal(info.filename, `peerset-${version}.tgz`);

  const mod = await import(pathToFileURL(path.join(dist, 'peerset.js')).href);
  assert.equal(mod.version, version, 'the version export of js/dist/peerset.js: rebuild with scripts/build-wasm.sh');
  const global = readFileSync(path.join(dist, 'peerset.global.js'), 'utf8');
  assert.ok(global.includes(`version: '${version}',`), 'js/dist/peerset.global.js does not carry the version');

  const bin = process.env.PEERSET_BIN;
  assert.ok(bin, 'PEERSET_BIN must name a peerset binary built by make build (make test-pack sets it)');
  for (const arg of ['version', '--version']) {
    const out = execFileSync(bin, [arg], { encoding: 'utf8' });
    assert.equal(out, `${version}\n`, `peerset ${arg}`);
  }
});

test('the public module carries no test hooks; peerset/testing does', async () => {
  const mod = await import(pathToFileURL(path.join(dist, 'peerset.js')).href);
  assert.deepEqual(Object.keys(mod).sort(), ['generateKey', 'initialize', 'open', 'version']);
  const types = readFileSync(path.join(dist, 'peerset.d.ts'), 'utf8');
  assert.doesNotMatch(types, /^\s+_\w+\s*\(/m, 'peerset.d.ts declares a _-prefixed member');
  const src = readFileSync(path.join(dist, 'peerset.js'), 'utf8');
  assert.doesNotMatch(src, /^\s+(async\s+)?_\w+\s*\(/m, 'peerset.js defines a _-prefixed method');

  const testing = await import(pathToFileURL(path.join(dist, 'testing.js')).href);
  assert.deepEqual(Object.keys(testing).sort(), ['RTCService', 'exportEvents', 'forwardChannel', 'importEvents', 'openOptions']);
  for (const [k, v] of Object.entries(testing)) assert.equal(typeof v, 'function', k);
  await assert.rejects(testing.importEvents({}, []), /needs a database from peerset's open\(\)/);
});

test('the licences ship', () => {
  assert.equal(readFileSync(path.join(dist, 'LICENSE'), 'utf8'), readFileSync(path.join(root, 'LICENSE'), 'utf8'));
  assert.match(readFileSync(path.join(root, 'LICENSE'), 'utf8'), /^MIT License/);
  const notices = readFileSync(path.join(dist, 'THIRD_PARTY_NOTICES.md'), 'utf8');
  assert.match(notices, /Go's `wasm_exec\.js`.*BSD-3-Clause/);
  assert.match(notices, /Redistribution and use in source and binary forms/);
  // Every module of the js/wasm build's module graph that is linked: the
  // secp256k1 and BIP-340 code at least.
  for (const m of ['github.com/decred/dcrd/dcrec/secp256k1/v4', 'github.com/btcsuite/btcd/btcec/v2']) {
    assert.ok(notices.includes(`\`${m}\``), `THIRD_PARTY_NOTICES.md does not list ${m}`);
  }
  assert.doesNotMatch(notices, /see the text/, 'a shipped licence was not recognised: check it by hand and teach cmd/wasm/internal/notices');
});
