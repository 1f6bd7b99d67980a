// The framework examples (examples/react, examples/svelte) as a user gets
// them: `npm pack` of js/, the tarball installed into a temporary copy of an
// example with `npm ci` and the committed lockfile, `vite build`, and the
// built dist/ checked for what a bundler must keep (the wasm and the
// engine's worker script copied as assets). The working tree is never touched:
// no tarball, node_modules or dist/ is left in it.
//
// npm runs inside the tests' loopback-only namespace too, from npm's cache
// (--prefer-offline): the registry cannot be reached there. Fill the cache
// beforehand, outside the namespace:
//
//   node js/test/lib/frameworks.mjs warm
//
// which does every step below once in a temporary directory and removes it.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const jsDir = path.join(repoRoot, 'js');
export const frameworks = ['react', 'svelte'];

const warmHint = 'npm works from its cache inside the tests\' loopback-only namespace: fill the cache first, outside it, with `node js/test/lib/frameworks.mjs warm` (needs the npm registry), then run the test again';

// run runs a command and resolves to { code, stdout, stderr, ms }; it never
// rejects for a non-zero exit (callers say what failed), only when the
// command cannot start.
export function run(cmd, args, { cwd, env, timeout = 240_000 } = {}) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new Error(`${cmd} is not installed (needed to ${args[0]} the framework examples): install Node.js 20+ with npm`) : err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? `signal ${signal}` : code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function tail(text, n = 25) {
  return text.split('\n').filter((l) => l.trim() && !/Unknown (user|env) config/.test(l)).slice(-n).join('\n');
}

export async function sha256File(file) {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

// packPeerset runs `npm pack` in js/ (after scripts/build-wasm.sh) into
// destDir and returns { file, filename, wasmSha256, ms }.
export async function packPeerset(destDir) {
  for (const f of ['peerset.js', 'peerset.wasm', 'peerset.worker.js', 'wasm_exec.js', 'peerset.d.ts']) {
    if (!existsSync(path.join(jsDir, 'dist', f))) {
      throw new Error(`js/dist/${f} is missing: build the package first with scripts/build-wasm.sh (scripts/browser-test.sh does)`);
    }
  }
  await mkdir(destDir, { recursive: true });
  const r = await run('npm', ['pack', '--json', '--pack-destination', destDir], { cwd: jsDir, timeout: 120_000 });
  if (r.code !== 0) throw new Error(`npm pack in js/ failed (exit ${r.code}):\n${tail(r.stderr)}`);
  let info;
  try {
    [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
  } catch {
    throw new Error(`npm pack --json printed no package description:\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  }
  const file = path.join(destDir, info.filename);
  if (!existsSync(file)) throw new Error(`npm pack said it wrote ${info.filename}, but ${file} does not exist`);
  const packed = new Set(info.files.map((f) => f.path));
  for (const f of ['dist/peerset.js', 'dist/peerset.wasm', 'dist/peerset.worker.js', 'dist/wasm_exec.js', 'dist/peerset.d.ts', 'package.json']) {
    if (!packed.has(f)) throw new Error(`the packed package lacks ${f} (it has ${[...packed].join(', ')}): check "files" in js/package.json`);
  }
  return { file, filename: info.filename, wasmSha256: await sha256File(path.join(jsDir, 'dist', 'peerset.wasm')), ms: r.ms };
}

// installExample lays out workRoot like the repository (workRoot/js/<tarball>
// and workRoot/examples/<name>, so the example's `file:../../js/<tarball>`
// dependency resolves), copies the example without node_modules or dist,
// and examples/shared (the options code both examples import), and runs
// `npm ci` there. Returns { dir, ms }.
export async function installExample(name, pack, workRoot, { retries = 0 } = {}) {
  const src = path.join(repoRoot, 'examples', name);
  const dir = path.join(workRoot, 'examples', name);
  const manifest = JSON.parse(await readFile(path.join(src, 'package.json'), 'utf8'));
  const want = `file:../../js/${pack.filename}`;
  const spec = manifest.dependencies?.peerset;
  if (spec !== want) {
    throw new Error(`examples/${name}/package.json depends on peerset ${JSON.stringify(spec)}, but npm pack of js/ makes ${pack.filename}: set "peerset": "${want}" and update its package-lock.json`);
  }
  await mkdir(path.join(workRoot, 'js'), { recursive: true });
  await cp(pack.file, path.join(workRoot, 'js', pack.filename));
  await cp(src, dir, {
    recursive: true,
    filter: (from) => {
      const rel = path.relative(src, from).split(path.sep);
      return !['node_modules', 'dist', '.vite'].includes(rel[0]) && !from.endsWith('.tgz');
    },
  });
  await cp(path.join(repoRoot, 'examples', 'shared'), path.join(workRoot, 'examples', 'shared'), { recursive: true });

  // The tarball changes with every build; with an integrity in the lockfile
  // npm ci would take the cached copy of an older build of the same
  // integrity instead. The committed lockfiles leave it out; make sure.
  const lockFile = path.join(dir, 'package-lock.json');
  if (!existsSync(lockFile)) throw new Error(`examples/${name}/package-lock.json is missing: commit the lockfile (npm install in the example, with the packed tarball at js/${pack.filename})`);
  const lock = JSON.parse(await readFile(lockFile, 'utf8'));
  const entry = lock.packages?.['node_modules/peerset'];
  if (!entry) throw new Error(`examples/${name}/package-lock.json has no node_modules/peerset entry: regenerate it with the packed tarball at js/${pack.filename}`);
  if (entry.integrity) {
    delete entry.integrity;
    await writeFile(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
  }

  const r = await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier', `--fetch-retries=${retries}`, '--fetch-timeout=30000'], { cwd: dir });
  if (r.code !== 0) {
    const out = `${r.stdout}\n${r.stderr}`;
    const offline = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|ETIMEDOUT|network|request to .* failed/i.test(out);
    throw new Error(`npm ci in a copy of examples/${name} failed (exit ${r.code})${offline ? `: npm could not reach the registry for a package missing from its cache; ${warmHint}` : ''}\n${tail(out)}`);
  }
  const installed = path.join(dir, 'node_modules', 'peerset', 'dist', 'peerset.wasm');
  if (!existsSync(installed)) throw new Error(`npm ci in examples/${name} installed no node_modules/peerset/dist/peerset.wasm`);
  if ((await sha256File(installed)) !== pack.wasmSha256) {
    throw new Error(`examples/${name} got a peerset.wasm that is not js/dist's: npm installed a stale copy of the package (an integrity for the tarball in package-lock.json?)`);
  }
  return { dir, ms: r.ms };
}

// viteBuild runs `npx vite build` in an installed example and checks the
// output: the wasm copied as an asset (the very bytes of js/dist's), and
// the engine's worker script (Go's runtime and js/engine.js) copied as an
// asset and named by the bundle. Returns
// { dist, wasmAsset, ms }.
export async function viteBuild(dir, pack) {
  const r = await run('npx', ['--no', 'vite', 'build'], { cwd: dir, timeout: 180_000 });
  if (r.code !== 0) throw new Error(`npx vite build in ${path.basename(dir)} failed (exit ${r.code}):\n${tail(`${r.stdout}\n${r.stderr}`, 40)}`);
  const dist = path.join(dir, 'dist');
  if (!existsSync(path.join(dist, 'index.html'))) throw new Error(`vite build wrote no dist/index.html in ${path.basename(dir)}`);
  const files = await listFiles(dist);
  const wasm = files.filter((f) => f.endsWith('.wasm'));
  if (wasm.length !== 1) {
    throw new Error(`vite build should copy peerset.wasm into dist/ as one asset (peerset.js loads it with new URL('./peerset.wasm', import.meta.url)); dist/ has ${wasm.length ? wasm.join(', ') : 'no .wasm'} among: ${files.join(', ')}`);
  }
  if ((await sha256File(path.join(dist, wasm[0]))) !== pack.wasmSha256) {
    throw new Error(`dist/${wasm[0]} is not the packed peerset.wasm: vite altered it`);
  }
  // The engine's worker script (peerset.worker.js: Go's wasm_exec.js and
  // js/engine.js) must be copied as an asset, as is, and named by the code
  // that starts it.
  const workerAssets = [];
  let bundle = '';
  for (const f of files.filter((f) => f.endsWith('.js'))) {
    const text = await readFile(path.join(dist, f), 'utf8');
    if (/globalThis\.Go\s*=/.test(text) && text.includes('__peersetEngine')) workerAssets.push(f);
    else bundle += text;
  }
  if (workerAssets.length !== 1) {
    throw new Error(`vite build should copy peerset.worker.js into dist/ as one asset (peerset.js starts it with new URL('./peerset.worker.js', import.meta.url)); found ${workerAssets.length} among: ${files.join(', ')}`);
  }
  const workerName = path.basename(workerAssets[0]);
  if (!bundle.includes(workerName)) {
    throw new Error(`the built JavaScript never names ${workerName}: vite did not rewrite new URL('./peerset.worker.js', import.meta.url) to the copied asset`);
  }
  const assetName = path.basename(wasm[0]);
  if (!bundle.includes(assetName)) {
    throw new Error(`the built JavaScript never names ${assetName}: vite did not rewrite new URL('./peerset.wasm', import.meta.url) to the copied asset`);
  }
  return { dist, wasmAsset: wasm[0], ms: r.ms };
}

async function listFiles(dir, prefix = '') {
  const out = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out;
}

// checkNpm fails clearly when npm is missing.
export async function checkNpm() {
  const r = await run('npm', ['--version'], { timeout: 30_000 });
  if (r.code !== 0) throw new Error(`npm --version failed (exit ${r.code}): the framework tests need npm (Node.js 20+):\n${tail(r.stderr)}`);
  return r.stdout.trim();
}

// warm does the whole install once in a temporary directory, outside the
// namespace, so that npm's cache holds every package the examples'
// lockfiles name.
async function warm() {
  const started = Date.now();
  await checkNpm();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'peerset-frameworks-warm-'));
  try {
    const pack = await packPeerset(path.join(tmp, 'pack'));
    for (const name of frameworks) {
      const { ms } = await installExample(name, pack, path.join(tmp, name), { retries: 2 });
      console.log(`frameworks: npm cache ready for examples/${name} (npm ci ${(ms / 1000).toFixed(1)} s)`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  console.log(`frameworks: warm in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2];
  if (cmd !== 'warm') {
    console.error('usage: node js/test/lib/frameworks.mjs warm   (fills npm\'s cache for the framework examples; run it where the npm registry is reachable)');
    process.exit(2);
  }
  warm().catch((err) => {
    console.error(`frameworks: ${err.message}`);
    process.exit(1);
  });
}

