// The peerset demo: a Network UI over the public JavaScript API. Open it in
// several tabs (or browsers) to watch them keep one record set in sync.
//
// Query parameters: room, tracker (repeatable or comma-separated; default
// the server this page came from, unless relays are given), relay (Nostr
// relays, repeatable or comma-separated; default none), moderation, granularity, app, password,
// offline=1, handshakeTimeout, challengeTimeout, idleRootInterval, maxPeers;
// and where the engine runs: worker=0 (on this page, not in a Worker),
// transfer=0 (data channels forwarded over a MessagePort rather than
// transferred to the worker: the path of browsers that cannot transfer).
//
// For tests: window.peerset is the module, window.db the open database, and
// body[data-ready="1"] says it is open.
//
// The key passphrase (Settings) is never put in the URL nor kept anywhere:
// without one, the key sits in the clear in IndexedDB, where any script of
// this origin can read it, and #key-warning says so.

const MODULE_URL = '../../js/dist/peerset.js';
const MAX_LIST = 1000; // newest records kept for the list (the DB holds them all)
const FIRST_SCREEN = 100; // records read at open before the page is ready
const ROW_HEIGHT = 52; // px, as --row-h in demo.css
const STATS_INTERVAL = 500; // ms
const MAX_BUCKETS_SHOWN = 60;
const BUCKET_ROWS_SHOWN = 8; // rows of buckets in view (the rest scroll), as .buckets in demo.css
const MAX_ACTIVITY = 200;
const MAX_FILE_BYTES = 16 << 20; // the engine's default maxBlobBytes
const MAX_IMAGE_URLS = 64; // object URLs of images kept for the list

const $ = (sel) => document.querySelector(sel);
// Counts and clock times are formatted here rather than by Intl: a page's
// first Intl formatter loads its locale's data, about 30 ms of CPU here, as
// much as a frame's budget at open. fmt.format(1234567) is "1,234,567"
// (as en-US), clock(ms) "06:08:18" and dayClock(ms) "1 Dec, 06:08" (as
// en-GB), in local time.
const fmt = {
  format: (n) => (Number.isInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : String(n)),
};
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n) => String(n).padStart(2, '0');
const clock = (ms) => {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
};
const dayClock = (ms) => {
  const d = new Date(ms);
  return `${d.getDate()} ${MONTHS[d.getMonth()]}, ${two(d.getHours())}:${two(d.getMinutes())}`;
};

let peerset;
let db = null;
let settings = readSettings(new URLSearchParams(location.search));
let geo = null;
let stopListening = [];
let statsTimer = 0;
let lastStats = null;
const peerStates = new Map(); // peer id → what the activity log said about it

// ---------------------------------------------------------------- settings

function readSettings(params) {
  const num = (name) => {
    const v = params.get(name);
    return v === null || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
  };
  const list = (name) => params.getAll(name).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const trackers = list('tracker');
  const relays = list('relay');
  return {
    room: params.get('room') || 'lobby',
    appId: params.get('app') || undefined,
    password: params.get('password') || undefined,
    moderation: params.get('moderation') || 'standard',
    granularity: params.get('granularity') || 'day',
    trackers: trackers.length || relays.length ? trackers : [`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`],
    relays,
    offline: params.get('offline') === '1',
    handshakeTimeout: num('handshakeTimeout'),
    challengeTimeout: num('challengeTimeout'),
    idleRootInterval: num('idleRootInterval'),
    maxPeers: num('maxPeers'),
    passphrase: undefined, // never from the URL
    badWords: params.getAll('badWord').map((w) => w.trim()).filter(Boolean),
    linkHosts: params.getAll('linkHost').map((h) => h.trim()).filter(Boolean),
    quota: num('quota'),
  };
}

function settingsToParams(s) {
  const params = new URLSearchParams(location.search);
  const set = (k, v) => (v === undefined || v === '' || v === null ? params.delete(k) : params.set(k, String(v)));
  set('room', s.room);
  set('moderation', s.moderation);
  set('granularity', s.granularity === 'day' ? undefined : s.granularity);
  params.delete('tracker');
  const own = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  if (!(s.trackers.length === 1 && s.trackers[0] === own)) for (const t of s.trackers) params.append('tracker', t);
  params.delete('relay');
  for (const r of s.relays) params.append('relay', r);
  set('handshakeTimeout', s.handshakeTimeout);
  set('challengeTimeout', s.challengeTimeout);
  set('idleRootInterval', s.idleRootInterval);
  set('maxPeers', s.maxPeers);
  params.delete('badWord');
  for (const w of s.badWords) params.append('badWord', w);
  params.delete('linkHost');
  for (const h of s.linkHosts) params.append('linkHost', h);
  set('quota', s.quota);
  return params;
}

function fillSettingsForm(s) {
  $('#set-room').value = s.room;
  $('#set-moderation').value = s.moderation;
  $('#set-granularity').value = s.granularity;
  $('#set-handshake').value = s.handshakeTimeout ?? '';
  $('#set-challenge').value = s.challengeTimeout ?? '';
  $('#set-idle').value = s.idleRootInterval ?? '';
  $('#set-maxpeers').value = s.maxPeers ?? '';
  $('#set-trackers').value = s.trackers.join('\n');
  $('#set-relays').value = s.relays.join('\n');
  $('#set-badwords').value = s.badWords.join('\n');
  $('#set-linkhosts').value = s.linkHosts.join('\n');
  $('#set-quota').value = s.quota ?? '';
}

function readSettingsForm() {
  const num = (id) => {
    const v = $(id).value.trim();
    return v === '' ? undefined : Number(v);
  };
  return {
    ...settings,
    room: $('#set-room').value.trim() || 'lobby',
    moderation: $('#set-moderation').value,
    granularity: $('#set-granularity').value,
    handshakeTimeout: num('#set-handshake'),
    challengeTimeout: num('#set-challenge'),
    idleRootInterval: num('#set-idle'),
    maxPeers: num('#set-maxpeers'),
    trackers: $('#set-trackers').value.split(/[\s,]+/).map((t) => t.trim()).filter(Boolean),
    relays: $('#set-relays').value.split(/[\s,]+/).map((t) => t.trim()).filter(Boolean),
    passphrase: $('#set-passphrase').value || undefined,
    badWords: $('#set-badwords').value.split('\n').map((w) => w.trim()).filter(Boolean),
    linkHosts: $('#set-linkhosts').value.split(/[\s,]+/).map((h) => h.trim()).filter(Boolean),
    quota: num('#set-quota'),
  };
}

function openOptions(s) {
  const session = {};
  if (s.handshakeTimeout) session.handshakeTimeout = s.handshakeTimeout;
  if (s.challengeTimeout) session.challengeTimeout = s.challengeTimeout;
  if (s.idleRootInterval) session.idleRootInterval = s.idleRootInterval;
  return {
    room: s.room,
    appId: s.appId,
    password: s.password,
    moderation: moderationOption(s),
    granularity: s.granularity,
    trackers: s.trackers,
    relays: s.relays,
    // A local demo: host candidates only, no public STUN server.
    iceServers: [],
    offline: s.offline,
    maxPeers: s.maxPeers,
    passphrase: s.passphrase,
    session,
    ...identityOptions(),
  };
}

// moderationOption is the preset's name, or the preset with the rules
// edited under Settings (bad words, link hosts, quota).
function moderationOption(s) {
  if (!s.badWords.length && !s.linkHosts.length && s.quota === undefined) return s.moderation;
  const m = { preset: s.moderation };
  if (s.badWords.length) m.badWords = s.badWords;
  if (s.linkHosts.length) m.allowLinkHosts = s.linkHosts;
  if (s.quota !== undefined) m.quota = s.quota;
  return m;
}

// ---------------------------------------------------------------- sign in
//
// Who signs: the room's own key (kept in IndexedDB, the default), a key the
// user pasted (nsec, or ncryptsec + passphrase: kept in this page's memory
// only, never in the URL or storage), the browser extension (NIP-07,
// window.nostr: the page never sees a secret), or nobody (signed out: an
// anonymous reader, identity 'ephemeral', read-only).

let identity = { kind: 'stored' };

function identityOptions() {
  switch (identity.kind) {
    case 'key':
      return identity.passphrase ? { nsec: identity.key, passphrase: identity.passphrase } : { nsec: identity.key };
    case 'extension':
      return { signer: window.nostr };
    case 'anonymous':
      return { identity: 'ephemeral', passphrase: undefined };
  }
  return {};
}

const IDENTITY_TEXT = {
  stored: 'the key this browser keeps for the room',
  key: 'a key you gave: kept in this page\'s memory only',
  extension: 'your browser extension signs (NIP-07): this page never sees your secret key',
  anonymous: 'an anonymous reader: a new key on every connection, nothing can be written',
};

function renderSignIn() {
  const readOnly = !db || db.readOnly;
  setText($('#signin-label'), readOnly ? 'not signed in:' : 'signed in as');
  setText($('#signin-npub'), db ? (db.key || 'read-only') : '…');
  setText($('#signin-how'), IDENTITY_TEXT[identity.kind] ?? '');
  $('#signin-extension').hidden = !(window.nostr && typeof window.nostr.signEvent === 'function');
  $('#signin-out').disabled = identity.kind === 'anonymous';
  $('#composer-submit').disabled = readOnly;
  $('#composer-submit').title = readOnly ? 'sign in to write' : '';
}

// switchIdentity reopens the room as next; if that fails, as before.
async function switchIdentity(next, what) {
  const status = $('#signin-status');
  const previous = identity;
  setText(status, `${what}…`);
  status.className = 'muted';
  for (const b of document.querySelectorAll('#signin-panel button')) b.disabled = true;
  try {
    await closeDB();
    identity = next;
    clearError();
    await openDB(settings);
    status.className = 'ok';
    setText(status, `${what}: done`);
  } catch (err) {
    status.className = 'bad';
    setText(status, err.code === 'signer' ? `the extension said no (${err.message})` : err.message);
    identity = previous;
    try {
      await openDB(settings);
    } catch (err2) {
      openFailed(err2);
    }
  } finally {
    for (const b of document.querySelectorAll('#signin-panel button')) b.disabled = false;
    renderSignIn();
  }
}

function onSignInWithKey(e) {
  e.preventDefault();
  const key = $('#signin-key').value.trim();
  const passphrase = $('#signin-pass').value;
  if (!/^(nsec1|ncryptsec1)/.test(key)) {
    $('#signin-status').className = 'bad';
    setText($('#signin-status'), 'paste an nsec1… or an ncryptsec1… (with its passphrase)');
    return;
  }
  $('#signin-key').value = '';
  $('#signin-pass').value = '';
  switchIdentity({ kind: 'key', key, passphrase: key.startsWith('ncryptsec1') ? passphrase : undefined }, 'signing in with your key');
}

async function onNewKey() {
  const { nsec } = await peerset.generateKey();
  await switchIdentity({ kind: 'key', key: nsec }, 'signing in with a new key');
  activity('a new key: it lives in this page only; sign in with it again later by pasting its nsec (db.stats() does not show it)', 'ok');
}

// ---------------------------------------------------------------- errors and activity

function showError(message) {
  const el = $('#error');
  el.textContent = message;
  el.hidden = false;
}

function clearError() {
  $('#error').hidden = true;
  $('#error').textContent = '';
}

function activity(text, kind = '') {
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = clock(Date.now());
  li.append(time, text);
  if (kind) li.className = kind;
  const list = $('#activity');
  list.prepend(li);
  while (list.children.length > MAX_ACTIVITY) list.lastChild.remove();
}

window.addEventListener('unhandledrejection', (e) => showError(String(e.reason?.message || e.reason)));
window.addEventListener('error', (e) => showError(String(e.message)));

// ---------------------------------------------------------------- formatting

function shortKey(npub) {
  return npub ? `${npub.slice(0, 10)}…${npub.slice(-6)}` : '—';
}

function shortId(id, n = 8) {
  return id ? (id.length > n ? `${id.slice(0, n)}…` : id) : '—';
}

function formatBytes(n) {
  if (!n) return '0 B';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// sizeText is a file's size in B, KiB or MiB.
function sizeText(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// describeFile is a file's type and size, as text (the type is the
// author's word: never put into HTML or CSS).
function describeFile(b) {
  const type = String(b.type || '').slice(0, 80) || 'unknown type';
  return `${type} · ${sizeText(b.size)}`;
}

function ago(ms) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// shortTime is the clock time for today's records, else day and time.
function shortTime(ms, now) {
  return new Date(ms).toDateString() === new Date(now).toDateString() ? clock(ms) : dayClock(ms);
}

function latLon(g) {
  const lat = `${Math.abs(g.lat).toFixed(4)}° ${g.lat < 0 ? 'S' : 'N'}`;
  const lon = `${Math.abs(g.lon).toFixed(4)}° ${g.lon < 0 ? 'W' : 'E'}`;
  return `${lat}, ${lon}`;
}

function utc(ms, withTime = true) {
  const iso = new Date(ms).toISOString();
  return withTime ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
}

function bucketLabel(b, granularity) {
  const start = new Date(b.start).toISOString();
  const day = start.slice(0, 10);
  switch (granularity) {
    case 'hour': return `${day} ${start.slice(11, 13)}:00`;
    case 'quarter-day': return `${day} ${start.slice(11, 13)}–${String((new Date(b.start).getUTCHours() + 6) % 24).padStart(2, '0')}h`;
    default: return day;
  }
}

function rangeLabel(r) {
  return `${utc(r.start)} → ${r.end === null ? 'open end' : utc(r.end)} UTC`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'title') node.title = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node[k] = v;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// setText writes text only when it differs: an unchanged write still costs
// the page a style, layout and paint pass.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// renderOnChange runs render(data) only when key differs from the last one
// rendered into node: the status panels are refreshed every 500 ms, and a
// sync of thousands of records must not rebuild them each time.
const renderedKeys = new WeakMap();
function renderOnChange(node, data, render) {
  const key = JSON.stringify(data);
  if (renderedKeys.get(node) === key) return;
  renderedKeys.set(node, key);
  render(data);
}

// ---------------------------------------------------------------- record list

// The list keeps the newest MAX_LIST records, newest first, and renders only
// the rows in view: a room may hold tens of thousands.
const list = [];
const byAddress = new Map(); // author/uuid → record shown
const freshIds = new Map(); // id → when it arrived live
let selectedId = null;
let renderQueued = false;
let listShort = false; // the list may have room for older records (removals, or the first screenful at open)
let renderedAt = 0;
let renderedView = '';
let shownRows = new Map(); // record id → its row element, for the rows in view
// The list's scroll offset, kept by its scroll events: renderList reading
// box.scrollTop would lay the page out there and then, in the frame's
// callback, before the frame lays it out again.
let listScrollTop = 0;
// During a sync records arrive by the thousand: the list is redrawn at most
// every BURST_RENDER_GAP ms then, and arrivals are not animated.
const BURST_RENDER_GAP = 500;
const BURST_RATE = 20; // records per second above which arrivals are a burst
let arrivals = [];

// noteArrival counts live arrivals; it reports whether we are in a burst.
function noteArrival(now) {
  arrivals.push(now);
  while (arrivals.length && arrivals[0] < now - 1000) arrivals.shift();
  if (arrivals.length > 4 * BURST_RATE) arrivals = arrivals.slice(-BURST_RATE * 2);
  return arrivals.length > BURST_RATE;
}

function inBurst(now) {
  return arrivals.filter((t) => t >= now - 1000).length > BURST_RATE;
}

const addressOf = (r) => `${r.author}/${r.uuid}`;
const newerFirst = (a, b) => (b.createdAt - a.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function positionOf(r) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newerFirst(list[mid], r) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function listRemove(r) {
  const cur = byAddress.get(addressOf(r));
  if (!cur || cur.id !== r.id) return;
  listShort = true;
  const i = positionOf(cur);
  if (list[i] === cur) list.splice(i, 1);
  else list.splice(list.indexOf(cur), 1);
  byAddress.delete(addressOf(r));
}

function listAdd(r) {
  const cur = byAddress.get(addressOf(r));
  if (cur) {
    if (newerFirst(cur, r) <= 0) return; // what we show is newer
    listRemove(cur);
  }
  const i = positionOf(r);
  if (i >= MAX_LIST) return;
  list.splice(i, 0, r);
  byAddress.set(addressOf(r), r);
  if (list.length > MAX_LIST) byAddress.delete(addressOf(list.pop()));
}

function resetList(records) {
  list.length = 0;
  byAddress.clear();
  for (const r of records) listAdd(r);
  queueRender();
}

// readList reads the newest limit records into the list. Changes keep
// arriving while the query runs and may reach the page before its result
// that missed them: the ones that arrive meanwhile are noted and applied
// again over the result (a record removed meanwhile stays out, one added
// meanwhile stays in).
let listReads = 0;
const removedDuringRead = new Map(); // address → removed record
const addedDuringRead = new Map(); // address → added record
async function readList(limit) {
  const forDb = db;
  listReads++;
  try {
    const records = await forDb.query({ limit });
    if (db !== forDb) return;
    resetList(records);
    for (const r of removedDuringRead.values()) listRemove(r);
    for (const r of addedDuringRead.values()) listAdd(r);
  } finally {
    if (--listReads === 0) {
      removedDuringRead.clear();
      addedDuringRead.clear();
    }
  }
}

function noteDuringRead(r, removed) {
  if (listReads === 0) return;
  const addr = addressOf(r);
  if (removed) {
    removedDuringRead.set(addr, r);
    addedDuringRead.delete(addr);
  } else {
    addedDuringRead.set(addr, r);
  }
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  const now = Date.now();
  const wait = inBurst(now) ? Math.max(0, renderedAt + BURST_RENDER_GAP - now) : 0;
  const draw = () => requestAnimationFrame(() => {
    renderQueued = false;
    renderList();
  });
  if (wait > 0) setTimeout(draw, wait);
  else draw();
}

function renderList() {
  const box = $('#record-list');
  const now = Date.now();
  renderedAt = now;
  // No geometry is read here (see listScrollTop). A list that just shrank
  // may not have sent the scroll event of its clamped offset yet.
  const rows = Math.min(9, Math.max(3, list.length));
  const scrollTop = Math.min(listScrollTop, Math.max(0, (list.length - rows) * ROW_HEIGHT));
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - 4);
  const last = Math.min(list.length, Math.ceil((scrollTop + rows * ROW_HEIGHT) / ROW_HEIGHT) + 4);
  const spacer = box.querySelector('.record-list-spacer');
  const spacerHeight = `${list.length * ROW_HEIGHT}px`;
  if (spacer.style.height !== spacerHeight) spacer.style.height = spacerHeight;
  const boxHeight = `${rows * ROW_HEIGHT + 2}px`;
  if (box.style.height !== boxHeight) box.style.height = boxHeight;
  const total = lastStats?.records ?? list.length;
  setText($('#list-summary'), list.length < total ? `newest ${fmt.format(list.length)} of ${fmt.format(total)}` : `${fmt.format(list.length)}`);
  // The rows in view, and whatever changes how they look: when none of it
  // changed (records arriving below the view, as in most of a sync), the
  // DOM is left alone.
  let view = `${first}:${selectedId}:${db?.key}`;
  for (let i = first; i < last; i++) {
    const r = list[i];
    const arrived = freshIds.get(r.id);
    view += `|${r.id}${arrived && now - arrived < 1200 ? '*' : ''}${heldBy(r) ?? ''}`;
  }
  if (view === renderedView) return;
  renderedView = view;
  box.querySelector('.list-empty')?.remove();
  if (list.length === 0) {
    for (const row of shownRows.values()) dropRow(row);
    shownRows.clear();
    box.append(el('div', { class: 'list-empty' }, 'No records yet: write one, or open this page in another tab.'));
    return;
  }
  // Rows stay as long as their record is in view: a record moving down the
  // list only moves its row.
  const keep = new Map();
  const added = [];
  for (let i = first; i < last; i++) {
    const r = list[i];
    const arrived = freshIds.get(r.id);
    const state = `${r.id === selectedId ? 's' : ''}${arrived && now - arrived < 1200 ? 'f' : ''}${db?.key}:${Math.floor(now / 60_000)}:${heldBy(r) ?? ''}`;
    let row = shownRows.get(r.id);
    if (row && row.dataset.state !== state) {
      dropRow(row);
      row = null;
    }
    if (!row) {
      row = recordRow(r, i, now);
      row.dataset.state = state;
      added.push(row);
    } else if (row.dataset.index !== String(i)) {
      row.style.top = `${i * ROW_HEIGHT}px`;
    }
    row.dataset.index = String(i);
    keep.set(r.id, row);
  }
  for (const [id, row] of shownRows) if (!keep.has(id)) dropRow(row);
  shownRows = keep;
  box.append(...added);
}

// heldBy is how many peers hold one of our records (stats().held), or
// undefined for others' records.
function heldBy(r) {
  if (!db || r.author !== db.key) return undefined;
  return lastStats?.held?.[r.uuid] ?? 0;
}

function recordRow(r, index, now) {
  const mine = db && r.author === db.key;
  const row = el('div', { class: 'record-row', role: 'listitem', dataset: { uuid: r.uuid, id: r.id } });
  row.style.top = `${index * ROW_HEIGHT}px`;
  if (r.id === selectedId) row.classList.add('selected');
  const arrived = freshIds.get(r.id);
  if (arrived && now - arrived < 1200) {
    // Rows are rebuilt on every render: resume the fade where it was.
    row.classList.add('fresh');
    row.style.animationDelay = `-${now - arrived}ms`;
  }

  const author = el('span', { class: 'author', title: r.author }, shortKey(r.author));
  if (mine) {
    author.append(el('span', { class: 'me' }, 'you'));
    const held = heldBy(r);
    if (held !== undefined) author.append(el('span', { class: 'held', title: 'peers known to hold this version (db.holders)' }, `held by ${held}`));
  }
  const time = el('span', { class: 'time', title: new Date(r.createdAt).toISOString() }, shortTime(r.createdAt, now));
  let text;
  if (r.text !== undefined && r.text !== '') text = el('span', { class: 'text', title: r.text }, r.text);
  else if (r.data !== undefined) text = el('span', { class: 'text data' }, r.data instanceof Uint8Array ? `${r.data.length} bytes (${r.mediaType})` : JSON.stringify(r.data));
  else text = el('span', { class: 'text muted' }, r.blob ? '' : '—');
  if (r.blob) text = el('span', { class: 'text-cell' }, fileCell(r), text);
  const link = el('span', { class: 'link' });
  if (r.link) {
    let safe = null;
    try {
      const u = new URL(r.link);
      if (u.protocol === 'https:' || u.protocol === 'http:') safe = u.href;
    } catch { /* shown as text */ }
    if (safe) link.append(el('a', { href: safe, target: '_blank', rel: 'noopener noreferrer nofollow', title: safe }, r.link));
    else link.append(r.link);
  }
  const place = el('span', { class: 'place', title: r.geohash ? `geohash ${r.geohash}` : '' },
    r.geo ? latLon(r.geo) : '');
  const del = mine ? el('button', { class: 'del', title: 'delete this record', type: 'button', dataset: { action: 'delete' } }, '×') : el('span');
  row.append(author, time, text, link, place, del);
  return row;
}

async function onListClick(e) {
  const row = e.target.closest('.record-row');
  if (!row) return;
  const r = list.find((x) => x.id === row.dataset.id);
  if (!r) return;
  const fileAction = e.target.closest('[data-action^="file-"]');
  if (fileAction && r.blob) {
    if (fileAction.dataset.action === 'file-download') downloadFile(r);
    else loadFile(r, { force: true });
    return;
  }
  if (e.target.closest('[data-action="delete"]')) {
    try {
      await db.delete(r.uuid);
      activity(`deleted record ${shortId(r.uuid)}`, 'ok');
    } catch (err) {
      showError(err.message);
    }
    return;
  }
  selectedId = r.id;
  const detail = $('#record-detail');
  detail.hidden = false;
  const { event, ...friendly } = r;
  detail.textContent = `${JSON.stringify(friendly, null, 2)}\n\nNIP-01 event:\n${JSON.stringify(event, null, 2)}`;
  queueRender();
}

// ---------------------------------------------------------------- files
//
// A record with a file (record.blob: { sha256, size, type }) shows the
// file's type and size beside its caption. Images are shown inline once
// their row is in view (db.blob(uuid), from this browser's storage or
// fetched from peers), as a fixed-size thumbnail; other files get a
// Download button. The type and the bytes are the author's: an <img> only
// ever gets an object URL made here, everything else is text, and a
// download is saved as application/octet-stream (never opened as a page).

const fileStatus = new Map(); // sha256 → { phase, received, size, text, rule } while fetching or after a failure
const imageURLs = new Map(); // sha256 → object URL of the image, oldest first (at most MAX_IMAGE_URLS)
const fileCells = new Map(); // sha256 → the .file cells on the page showing it
const cellRecords = new WeakMap(); // .file cell → its record
const fileViews = typeof IntersectionObserver === 'function'
  ? new IntersectionObserver(onFileCellsSeen, { root: document.querySelector('#record-list') })
  : null;

// RASTER lists the image types shown from a blob retyped as
// application/octet-stream (the browser recognises the picture by its
// bytes): "open image in new tab" then saves it rather than showing it as
// a page of this origin. An SVG, which needs its own type, is drawn into a
// canvas and shown as a PNG made here: its blob: URL never reaches the page.
const RASTER = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp', 'image/x-icon', 'image/vnd.microsoft.icon']);
const SVG = 'image/svg+xml';
const showsInline = (b) => RASTER.has(String(b.type).toLowerCase()) || String(b.type).toLowerCase() === SVG;

// File extensions for downloads, for a few well-known types only.
const EXTENSIONS = {
  'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp', 'image/svg+xml': 'svg',
  'application/pdf': 'pdf', 'text/plain': 'txt', 'application/json': 'json', 'application/zip': 'zip',
  'audio/mpeg': 'mp3', 'video/mp4': 'mp4', 'text/csv': 'csv',
};

function fileCell(r) {
  const cell = el('span', { class: 'file' });
  cellRecords.set(cell, r);
  const sha = r.blob.sha256;
  if (!fileCells.has(sha)) fileCells.set(sha, new Set());
  fileCells.get(sha).add(cell);
  drawFileCell(cell, r);
  if (showsInline(r.blob) && !imageURLs.has(sha)) {
    if (fileViews) fileViews.observe(cell);
    else queueMicrotask(() => loadFile(r));
  }
  return cell;
}

// dropRow takes a row off the page, and its file cell out of the books.
function dropRow(row) {
  row.remove();
  const cell = row.querySelector('.file');
  if (!cell) return;
  fileViews?.unobserve(cell);
  const sha = cellRecords.get(cell)?.blob.sha256;
  const cells = fileCells.get(sha);
  cells?.delete(cell);
  if (cells && cells.size === 0) fileCells.delete(sha);
}

function onFileCellsSeen(entries) {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    const r = cellRecords.get(e.target);
    fileViews.unobserve(e.target);
    if (r && e.target.isConnected) loadFile(r);
  }
}

function drawFileCell(cell, r) {
  const b = r.blob;
  const st = fileStatus.get(b.sha256);
  const parts = [];
  const inline = showsInline(b) && st?.phase !== 'broken';
  if (inline) {
    const url = imageURLs.get(b.sha256);
    if (url) {
      imageURLs.delete(b.sha256); // shown again: the newest in the cache
      imageURLs.set(b.sha256, url);
      const img = el('img', { class: 'thumb', alt: 'image', decoding: 'async' });
      img.addEventListener('error', () => {
        fileStatus.set(b.sha256, { phase: 'broken' });
        redrawFile(b.sha256);
      }, { once: true });
      img.src = url; // only ever an object URL made by this page
      parts.push(img);
    } else {
      parts.push(el('span', { class: 'thumb' }));
    }
  }
  const desc = describeFile(b);
  const state = el('span', { class: 'file-state' });
  const button = (action, label, title) => el('button', { type: 'button', class: 'secondary', title, dataset: { action } }, label);
  // A button first (never cut off), then what happened (cut to the row,
  // whole in its title).
  const says = (text, ...before) => {
    state.append(...before, el('span', { class: 'says', title: text }, text));
  };
  switch (st?.phase) {
    case 'loading':
      says(st.size ? `fetching ${sizeText(st.received)} of ${sizeText(st.size)}` : 'fetching…');
      break;
    case 'unavailable':
      says('not available from connected peers yet', button('file-retry', 'Retry', 'ask the connected peers again'));
      break;
    case 'refused':
      state.classList.add('bad');
      says(`refused by rule “${st.rule}”: ${st.text}`);
      break;
    case 'error':
      state.classList.add('bad');
      says(st.text, button('file-retry', 'Retry', 'try again'));
      break;
    case 'broken':
      state.classList.add('bad');
      says('cannot show this image', button('file-download', 'Download', 'save the file'));
      break;
    case 'gone':
      says('the record is gone');
      break;
    default:
      if (!inline) state.append(button('file-download', 'Download', 'fetch the file and save it'));
  }
  parts.push(el('span', { class: 'file-meta' }, el('span', { class: 'file-desc', title: desc }, desc), state));
  cell.replaceChildren(...parts);
}

function redrawFile(sha) {
  const cells = fileCells.get(sha);
  if (!cells) return;
  for (const cell of cells) {
    if (!cell.isConnected) {
      cells.delete(cell);
      continue;
    }
    drawFileCell(cell, cellRecords.get(cell));
  }
  if (cells.size === 0) fileCells.delete(sha);
}

function onBlobEvent(e) {
  const st = fileStatus.get(e.sha256);
  if (e.done && !e.error && (st?.phase === 'unavailable' || st?.phase === 'error')) {
    // Fetched meanwhile (a record's small file is fetched as it arrives):
    // show it without waiting for Retry.
    fileStatus.delete(e.sha256);
    const cell = [...(fileCells.get(e.sha256) ?? [])].find((c) => c.isConnected);
    if (cell) loadFile(cellRecords.get(cell));
    redrawFile(e.sha256);
    return;
  }
  if (st?.phase !== 'loading' || e.done) return; // db.blob() settles the rest
  st.received = e.received;
  st.size = e.size;
  redrawFile(e.sha256);
}

// fetching: sha256 → the running db.blob() of it, shared by the rows and
// buttons that ask meanwhile.
const fetching = new Map();

// fetchFile resolves to the file's Blob, or null when the record is gone;
// it notes progress and failures in fileStatus for the rows to show.
function fetchFile(r) {
  const sha = r.blob.sha256;
  if (fetching.has(sha)) return fetching.get(sha);
  const forDb = db;
  fileStatus.set(sha, { phase: 'loading', received: 0, size: r.blob.size });
  redrawFile(sha);
  const p = (async () => {
    try {
      const blob = await forDb.blob(r.uuid);
      if (db === forDb) {
        if (blob) fileStatus.delete(sha);
        else fileStatus.set(sha, { phase: 'gone' });
      }
      return blob;
    } catch (err) {
      if (db === forDb) {
        if (err.code === 'unavailable') fileStatus.set(sha, { phase: 'unavailable' });
        else if (err.rule) fileStatus.set(sha, { phase: 'refused', rule: err.rule, text: err.reason || err.message });
        else fileStatus.set(sha, { phase: 'error', text: err.code === 'closed' ? 'the room was closed' : `could not fetch: ${err.message}` });
      }
      return null;
    } finally {
      fetching.delete(sha);
      redrawFile(sha);
    }
  })();
  fetching.set(sha, p);
  return p;
}

// loadFile shows an image inline (its row is in view): fetched once, then
// kept as an object URL while among the MAX_IMAGE_URLS newest.
async function loadFile(r, { force = false } = {}) {
  const sha = r.blob.sha256;
  if (!db || imageURLs.has(sha)) return;
  const phase = fileStatus.get(sha)?.phase;
  if (!force && phase && phase !== 'loading') return; // a failure waits for Retry
  if (!showsInline(r.blob)) {
    if (force) await downloadFile(r);
    return;
  }
  const blob = await fetchFile(r);
  if (!blob) return;
  let url;
  if (String(r.blob.type).toLowerCase() === SVG) {
    url = await svgAsPNG(blob);
    if (!url) {
      fileStatus.set(sha, { phase: 'broken' });
      redrawFile(sha);
      return;
    }
  } else {
    url = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
  }
  keepImageURL(sha, url);
  redrawFile(sha);
}

// svgAsPNG draws an SVG file into a canvas and resolves to an object URL
// of that PNG, or null when it cannot be drawn.
async function svgAsPNG(blob) {
  const svgURL = URL.createObjectURL(new Blob([blob], { type: SVG }));
  try {
    const img = new Image();
    img.src = svgURL;
    await img.decode();
    const scale = Math.min(1, 256 / Math.max(img.naturalWidth || 256, img.naturalHeight || 256));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round((img.naturalWidth || 256) * scale));
    canvas.height = Math.max(1, Math.round((img.naturalHeight || 256) * scale));
    canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
    const png = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    return png ? URL.createObjectURL(png) : null;
  } catch {
    return null;
  } finally {
    URL.revokeObjectURL(svgURL);
  }
}

// keepImageURL caches url for sha, and drops (revokes) the oldest URLs not
// shown in any row past MAX_IMAGE_URLS.
function keepImageURL(sha, url) {
  const old = imageURLs.get(sha);
  if (old && old !== url) URL.revokeObjectURL(old);
  imageURLs.delete(sha);
  imageURLs.set(sha, url);
  for (const [k, u] of imageURLs) {
    if (imageURLs.size <= MAX_IMAGE_URLS) break;
    if (k === sha || [...(fileCells.get(k) ?? [])].some((c) => c.isConnected)) continue;
    URL.revokeObjectURL(u);
    imageURLs.delete(k);
  }
}

// downloadFile fetches the file and saves it through an <a download>.
async function downloadFile(r) {
  const blob = await fetchFile(r);
  if (!blob) return;
  const url = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
  const ext = EXTENSIONS[String(r.blob.type).toLowerCase()];
  const a = el('a', { href: url, download: `peerset-${r.blob.sha256.slice(0, 12)}${ext ? `.${ext}` : ''}` });
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  activity(`saved the file of record ${shortId(r.uuid)} (${describeFile(r.blob)})`, 'ok');
}

// ---------------------------------------------------------------- status panels

function stateBadge(state) {
  return el('span', { class: `state state-${state.replace(/ /g, '-')}` }, state);
}

function renderTrackers(st) {
  const body = $('#tracker-table tbody');
  renderOnChange(body, { online: st.online, trackers: st.trackers.map((t) => [t.url, t.state, t.lastError, t.phase, t.announces]) }, () => drawTrackers(body, st));
}

function drawTrackers(body, st) {
  body.replaceChildren();
  if (!st.online) {
    body.append(el('tr', { class: 'empty' }, el('td', { colSpan: 4 }, 'offline: not looking for peers')));
    return;
  }
  if (st.trackers.length === 0) {
    body.append(el('tr', { class: 'empty' }, el('td', { colSpan: 4 }, 'no trackers: Nostr relays only')));
    return;
  }
  for (const t of st.trackers) {
    const state = t.state === 'open' ? 'open' : t.lastError ? 'error' : t.state;
    body.append(el('tr', { title: t.lastError ? `last error: ${t.lastError}` : '' },
      el('td', { class: 'url mono', title: t.url }, t.url),
      el('td', {}, stateBadge(state)),
      el('td', {}, t.phase || '—'),
      el('td', { class: 'num' }, fmt.format(t.announces))));
  }
}

function renderRelays(st) {
  const table = $('#relay-table');
  const relays = st.relays ?? [];
  table.hidden = relays.length === 0;
  const body = table.querySelector('tbody');
  renderOnChange(body, { online: st.online, relays: relays.map((r) => [r.url, r.state, r.lastError, r.received, r.announces]) }, () => drawRelays(body, st));
}

function drawRelays(body, st) {
  body.replaceChildren();
  for (const r of st.relays ?? []) {
    const state = r.state === 'open' ? 'open' : r.lastError ? 'error' : r.state;
    body.append(el('tr', { title: r.lastError ? `last error: ${r.lastError}` : '' },
      el('td', { class: 'url mono', title: r.url }, r.url),
      el('td', {}, stateBadge(state)),
      el('td', { class: 'num', title: `${fmt.format(r.dropped)} refused` }, fmt.format(r.received)),
      el('td', { class: 'num' }, fmt.format(r.announces))));
  }
}

function renderPeers(st) {
  const body = $('#peer-table tbody');
  renderOnChange(body, { online: st.online, sessions: st.sessions }, () => drawPeers(body, st));
}

function drawPeers(body, st) {
  body.replaceChildren();
  const sessions = st.sessions;
  if (sessions.length === 0) {
    body.append(el('tr', { class: 'empty' }, el('td', { colSpan: 9 },
      st.online ? 'no peers yet: open this page in another tab or browser' : 'offline')));
    return;
  }
  for (const s of sessions) {
    const pending = s.pending + s.wantsInFlight;
    body.append(el('tr', { class: s.closed ? 'closed' : '', dataset: { peer: s.peerId } },
      el('td', { class: 'mono', title: s.peerId }, shortId(s.peerId, 10)),
      el('td', { class: 'mono', title: s.pubkey || '' }, shortKey(s.pubkey)),
      el('td', { title: s.closeReason || (s.rulesDiffer ? 'moderation rules differ from ours: sync backs off' : '') },
        stateBadge(s.rulesDiffer && !s.closed ? 'rules differ' : s.state)),
      el('td', { class: 'num' }, s.rtt === null ? '—' : `${Math.round(s.rtt)} ms`),
      el('td', { class: 'num' }, `${formatBytes(s.bytesIn)} / ${formatBytes(s.bytesOut)}`),
      el('td', { class: 'num', title: `stored ${s.recordsStored}, refused ${s.recordsRefused}` }, `${fmt.format(s.recordsIn)} / ${fmt.format(s.recordsOut)}`),
      el('td', { class: 'num' }, fmt.format(pending)),
      el('td', { class: `num${s.strikes > 0 ? ' strikes-bad' : ''}` }, String(s.strikes)),
      el('td', { title: s.rulesDiffer ? `this peer's moderation rules differ: the sets never become equal; next try in ${Math.round(s.syncBackoffMs / 1000)} s` : (s.lastSyncAt ? `took ${Math.round(s.lastSyncMs)} ms` : '') },
        s.rulesDiffer ? 'rules differ' : s.lastSyncAt ? ago(s.lastSyncAt) : (s.rootsEqual ? 'in sync' : '—'))));
  }
}

function renderRecordStatus(st) {
  setText($('#record-count'), fmt.format(st.records));
  setText($('#deletion-count'), fmt.format(st.deletions));
  setText($('#peer-count'), fmt.format(st.peers));
  setText($('#root'), st.root);
  renderOnChange($('#bucket-list'), { g: st.granularity, b: st.buckets, m: st.missingRanges }, () => drawBuckets(st));
}

function drawBuckets(st) {
  const granularity = st.granularity === 'none' ? 'day' : st.granularity;
  setText($('#bucket-granularity'), `${fmt.format(st.buckets.length)} × ${granularity}, UTC`);
  const missing = st.missingRanges;
  const overlapsMissing = (b) => missing.some((r) => b.start < (r.end ?? Infinity) && (b.end ?? Infinity) > r.start);
  const buckets = [...st.buckets].reverse();
  const max = buckets.reduce((m, b) => Math.max(m, b.count), 1);
  const items = buckets.slice(0, MAX_BUCKETS_SHOWN).map((b) => {
    const bar = el('span');
    bar.style.width = `${Math.max(2, (b.count / max) * 100)}%`;
    return el('li', { class: overlapsMissing(b) ? 'missing' : '', title: `fingerprint ${b.fingerprint}` },
      el('span', { class: 'when' }, bucketLabel(b, granularity)),
      el('span', { class: 'bar' }, bar),
      el('span', { class: 'count' }, fmt.format(b.count)),
      el('span', { class: 'fp' }, b.fingerprint.slice(0, 8)));
  });
  if (buckets.length > MAX_BUCKETS_SHOWN) items.push(el('li', { class: 'muted' }, `… ${buckets.length - MAX_BUCKETS_SHOWN} older buckets`));
  if (items.length === 0) items.push(el('li', { class: 'muted' }, 'no records'));
  // The list is a box of fixed height (see .buckets in demo.css), set here
  // only when its row count changes.
  const rows = String(Math.min(items.length, BUCKET_ROWS_SHOWN));
  const list = $('#bucket-list');
  if (list.style.getPropertyValue('--rows') !== rows) list.style.setProperty('--rows', rows);
  list.replaceChildren(...items);

  $('#missing-ranges').replaceChildren(...(missing.length
    ? missing.map((r) => el('li', { class: 'missing' }, rangeLabel(r)))
    : [el('li', { class: 'muted' }, 'none known')]));
}

// How the key is kept (db.keyStorage): a key in the clear gets a warning.
const KEY_STORAGE_TEXT = {
  clear: 'unencrypted in IndexedDB: readable by any script of this origin',
  encrypted: 'encrypted with your passphrase',
  memory: 'in memory only',
  external: 'given by you (nsec), not stored',
  signer: 'held by your browser extension (NIP-07), never seen here',
  none: 'none: an anonymous reader (read-only)',
};

function renderKeyStorage(keyStorage) {
  const dd = $('#key-storage');
  dd.textContent = KEY_STORAGE_TEXT[keyStorage] ?? String(keyStorage ?? '…');
  dd.className = keyStorage === 'clear' ? 'key-clear' : '';
  $('#key-warning-origin').textContent = location.origin;
  $('#key-warning').hidden = keyStorage !== 'clear';
}

function askForPassphrase() {
  $('#settings-panel').scrollIntoView({ block: 'nearest' });
  $('#set-passphrase').focus();
}

// openFailed explains a failed open; an encrypted key needs its passphrase.
function openFailed(err) {
  if (err.code === 'key-passphrase') {
    showError(`This room's key is encrypted: enter its passphrase under Settings → key passphrase, then Apply. (${err.message})`);
    askForPassphrase();
  } else {
    showError(err.message);
  }
}

function renderClient(st) {
  setText($('#own-key'), st.key);
  setText($('#peer-id'), st.peerId || '— (offline)');
  setText($('#storage'), st.storage === 'indexeddb' ? 'IndexedDB (kept across reloads)' : 'memory');
  setText($('#moderation'), st.moderation);
  if (renderedKeys.get(renderKeyStorage) !== st.keyStorage) {
    renderedKeys.set(renderKeyStorage, st.keyStorage);
    renderKeyStorage(st.keyStorage);
  }
  setText($('#room-name'), st.room);
  setText($('#app-id'), st.appId);
  const pill = $('#status-pill');
  const openTrackers = st.trackers.filter((t) => t.state === 'open').length + (st.relays ?? []).filter((r) => r.state === 'open').length;
  let pillClass;
  let pillText;
  if (!st.online) {
    pillClass = 'pill pill-off';
    pillText = 'offline (local only)';
  } else if (st.peers > 0) {
    pillClass = 'pill pill-ok';
    pillText = `online · ${st.peers} peer${st.peers === 1 ? '' : 's'}`;
  } else if (openTrackers === 0) {
    pillClass = 'pill pill-bad';
    pillText = (st.relays ?? []).length ? 'no tracker or relay reachable' : 'no tracker reachable';
  } else {
    pillClass = 'pill pill-wait';
    pillText = 'online · looking for peers';
  }
  if (pill.className !== pillClass) pill.className = pillClass;
  setText(pill, pillText);
}

let statsInFlight = false;
let panelsAt = 0;
// During a sync the tables and buckets are redrawn every PANELS_BURST_GAP
// ms: each redraw lays the page out again (the counts and the root, in
// boxes of a fixed size, only lay out themselves).
const PANELS_BURST_GAP = 2000;
let statsAgain = false;

async function refreshStats() {
  if (!db || db.closed) return;
  if (statsInFlight) {
    statsAgain = true;
    return;
  }
  statsInFlight = true;
  try {
    const st = await db.stats();
    lastStats = st;
    renderClient(st);
    // During a sync (records arriving by the hundred) the tables and the
    // buckets are redrawn every PANELS_BURST_GAP ms; the counts every time.
    const now = Date.now();
    if (!inBurst(now) || now - panelsAt >= PANELS_BURST_GAP) {
      panelsAt = now;
      renderTrackers(st);
      renderRelays(st);
      renderPeers(st);
      renderRecordStatus(st);
    } else {
      setText($('#record-count'), fmt.format(st.records));
      setText($('#root'), st.root);
    }
    if (listShort && list.length < Math.min(MAX_LIST, st.records)) reloadListSoon();
    queueRender();
  } catch (err) {
    if (err.code !== 'closed') showError(err.message);
  } finally {
    statsInFlight = false;
    if (statsAgain) {
      statsAgain = false;
      setTimeout(refreshStats, 100);
    }
  }
}

// After removals, or the first screenful read at open, the kept window may
// have room for older records: read the whole window again.
let reloadTimer = 0;
function reloadListSoon() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(async () => {
    reloadTimer = 0;
    if (!db || db.closed) return;
    listShort = false;
    try {
      await readList(MAX_LIST);
    } catch (err) {
      if (err.code !== 'closed') showError(err.message);
    }
  }, 1500);
}

function renderSync(e) {
  const bar = $('#sync-progress');
  const text = $('#sync-text');
  // The line is cut with an ellipsis in a narrow panel: its title has it whole.
  queueMicrotask(() => { if (text.title !== text.textContent) text.title = text.textContent; });
  if (e.done) {
    bar.value = e.peers ? 1 : 0; // an empty bar while alone
    setText(text, e.peers ? `in sync with ${e.peers} peer${e.peers === 1 ? '' : 's'} · ${fmt.format(e.recordsIn)} in, ${fmt.format(e.recordsOut)} out` : 'waiting for peers');
  } else {
    bar.value = e.total ? e.progress : 0;
    if (!e.total) setText(text, 'comparing sets…');
    else if (e.received >= e.total) setText(text, `received ${fmt.format(e.received)} records`);
    else setText(text, `receiving ${fmt.format(e.received)} of ${fmt.format(e.total)} records`);
  }
}

// ---------------------------------------------------------------- composer

async function onPut(e) {
  e.preventDefault();
  const text = $('#composer-text').value.trim();
  const link = $('#composer-link').value.trim();
  const file = $('#composer-file').files[0] ?? null;
  const status = $('#composer-status');
  if (!text && !link && !geo && !file) {
    status.className = 'bad';
    status.textContent = 'write some text, a link, attach a file or add your location first';
    return;
  }
  if (file && file.size > MAX_FILE_BYTES) {
    status.className = 'bad';
    status.textContent = `the file is ${sizeText(file.size)}: at most ${sizeText(MAX_FILE_BYTES)}`;
    return;
  }
  if (file && file.size === 0) {
    status.className = 'bad';
    status.textContent = 'the file is empty';
    return;
  }
  const input = {};
  if (text) input.text = text;
  if (link) input.link = link;
  if (geo) input.geo = geo;
  if (file) input.file = file;
  const button = $('#composer-submit');
  button.disabled = true;
  status.className = '';
  status.textContent = file ? `storing the file (${sizeText(file.size)}) and signing…` : 'signing…';
  try {
    const r = await db.put(input);
    clearError();
    status.className = 'ok';
    status.textContent = r.blob ? `stored ${shortId(r.uuid)} with its file (${describeFile(r.blob)})` : `stored ${shortId(r.uuid)}`;
    $('#composer-text').value = '';
    $('#composer-link').value = '';
    if (file) onClearFile();
  } catch (err) {
    status.className = 'bad';
    status.textContent = err.rule ? `refused by rule “${err.rule}”` : 'not stored';
    showError(err.rule ? `Refused by rule “${err.rule}”: ${err.reason || err.message}` : err.message);
  } finally {
    button.disabled = false;
    renderSignIn(); // a sign-out meanwhile keeps the button off
  }
}

function onFileChosen() {
  const file = $('#composer-file').files[0];
  $('#composer-file-clear').hidden = !file;
  const status = $('#composer-status');
  if (file && file.size > MAX_FILE_BYTES) {
    status.className = 'bad';
    status.textContent = `the file is ${sizeText(file.size)}: at most ${sizeText(MAX_FILE_BYTES)}`;
  } else if (file) {
    status.className = '';
    status.textContent = `attached: ${describeFile({ type: file.type, size: file.size })}`;
  } else {
    status.textContent = '';
  }
}

function onClearFile() {
  $('#composer-file').value = '';
  $('#composer-file-clear').hidden = true;
}

function onUseLocation() {
  const status = $('#composer-geo-value');
  if (!navigator.geolocation) {
    status.textContent = 'this browser has no geolocation';
    return;
  }
  status.textContent = 'locating…';
  navigator.geolocation.getCurrentPosition((pos) => {
    geo = { lat: Number(pos.coords.latitude.toFixed(6)), lon: Number(pos.coords.longitude.toFixed(6)) };
    status.textContent = `${latLon(geo)} (±${Math.round(pos.coords.accuracy)} m)`;
    $('#composer-geo-clear').hidden = false;
  }, (err) => {
    geo = null;
    status.textContent = `no location: ${err.message || 'permission denied'}`;
  }, { timeout: 15_000, maximumAge: 60_000 });
}

function onClearLocation() {
  geo = null;
  $('#composer-geo-value').textContent = 'no location';
  $('#composer-geo-clear').hidden = true;
}

// ---------------------------------------------------------------- open / reopen

function setReady(ready) {
  document.body.dataset.ready = ready ? '1' : '0';
}

async function openDB(s) {
  setReady(false);
  $('#status-pill').className = 'pill pill-wait';
  $('#status-pill').textContent = 'opening…';
  $('#room-name').textContent = s.room;
  const opened = await peerset.open(openOptions(s));
  db = opened;
  window.db = opened;
  renderKeyStorage(db.keyStorage);
  lastStats = null;
  peerStates.clear();
  fileStatus.clear();
  resetList([]);

  stopListening = [
    db.on('record', (e) => {
      if (e.overflow) {
        // Changes were dropped on their way to the page: read the list again.
        readList(MAX_LIST).catch((err) => { if (err.code !== 'closed') showError(err.message); });
        return;
      }
      noteDuringRead(e.record, e.removed);
      if (e.removed) {
        listRemove(e.record);
      } else {
        listAdd(e.record);
        const now = Date.now();
        if (e.origin !== 'local' && !noteArrival(now)) {
          freshIds.set(e.record.id, now);
          if (freshIds.size > 100) for (const [id, at] of freshIds) if (now - at > 1200) freshIds.delete(id);
        }
      }
      queueRender();
      refreshStatsSoon();
    }),
    db.on('peer', (p) => {
      // Log arrivals, authentication and departures; syncing ⇄ idle flips
      // show in the swarm table.
      const who = `peer ${shortId(p.peerId, 10)}${p.pubkey ? ` (${shortKey(p.pubkey)})` : ''}`;
      const seen = peerStates.get(p.peerId);
      if (p.state === 'closed') {
        peerStates.delete(p.peerId);
        activity(`${who} left${p.closeReason ? `: ${p.closeReason}` : ''}`);
      } else if (p.authenticated && !seen?.authenticated) {
        activity(`${who} authenticated: its key is proven`, 'ok');
      } else if (!seen) {
        activity(`${who} connecting (${p.state})`);
      }
      if (p.state !== 'closed') peerStates.set(p.peerId, { authenticated: p.authenticated });
      refreshStatsSoon();
    }),
    db.on('sync', renderSync),
    db.on('blob', onBlobEvent),
    db.on('reject', (r) => {
      // At most 10 per peer and second come one by one; the rest as summaries.
      const peer = r.peerId ? `peer ${shortId(r.peerId, 10)}` : 'several peers';
      if (r.suppressed) {
        activity(`${fmt.format(r.suppressed)} more refusals from ${peer}${r.rule ? ` by rule “${r.rule}”` : ''}, not listed one by one`, 'bad');
      } else if (r.unverified) {
        activity(`refused a forged or broken record from ${peer}: rule “${r.rule}” (${r.reason})`, 'bad');
      } else {
        activity(`refused record ${shortId(r.uuid)} from ${peer}: rule “${r.rule}” (${r.reason})`, 'bad');
      }
    }),
  ];
  renderSignIn();
  activity(`opened room “${s.room}” ${db.readOnly ? 'as an anonymous reader' : `as ${shortKey(db.key)}`}${s.offline ? ' (offline)' : ''}`, 'ok');
  // Ready once the page shows the stored state, not just once the DB is open.
  // One screenful first (a query of the whole window costs about half a
  // second at open); the rest of the window follows (reloadListSoon).
  await refreshStats();
  await readList(FIRST_SCREEN);
  listShort = true;
  setReady(true);
}

let soonTimer = 0;
function refreshStatsSoon() {
  if (soonTimer) return;
  soonTimer = setTimeout(() => {
    soonTimer = 0;
    refreshStats();
  }, 250);
}

async function closeDB() {
  for (const stop of stopListening) stop();
  stopListening = [];
  const old = db;
  db = null;
  window.db = null;
  if (old) await old.close();
}

async function onApplySettings(e) {
  e.preventDefault();
  const next = readSettingsForm();
  const button = $('#settings-apply');
  button.disabled = true;
  try {
    await closeDB();
    settings = next;
    history.replaceState(null, '', `${location.pathname}?${settingsToParams(next)}`);
    clearError();
    await openDB(next);
  } catch (err) {
    openFailed(err);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- start

async function start() {
  fillSettingsForm(settings);
  $('#composer').addEventListener('submit', onPut);
  $('#composer-geo').addEventListener('click', onUseLocation);
  $('#composer-geo-clear').addEventListener('click', onClearLocation);
  $('#composer-file').addEventListener('change', onFileChosen);
  $('#composer-file-clear').addEventListener('click', () => { onClearFile(); onFileChosen(); });
  $('#settings').addEventListener('submit', onApplySettings);
  $('#key-warning-fix').addEventListener('click', askForPassphrase);
  $('#signin-key-form').addEventListener('submit', onSignInWithKey);
  $('#signin-extension').addEventListener('click', () => switchIdentity({ kind: 'extension' }, 'signing in with your extension'));
  $('#signin-new').addEventListener('click', () => onNewKey().catch((err) => showError(err.message)));
  $('#signin-out').addEventListener('click', () => switchIdentity({ kind: 'anonymous' }, 'signing out'));
  $('#record-list').addEventListener('scroll', (e) => {
    listScrollTop = e.currentTarget.scrollTop;
    queueRender();
  }, { passive: true });
  $('#record-list').addEventListener('click', onListClick);
  $('#composer-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('#composer').requestSubmit();
  });
  queueRender(); // at the next frame: reading the list's geometry now would lay the page out in this task

  try {
    peerset = await import(MODULE_URL);
  } catch (err) {
    showError(`Could not load ${new URL(MODULE_URL, location.href).pathname} (${err.message}). Build the browser build first: make wasm (scripts/build-wasm.sh), then reload.`);
    return;
  }
  window.peerset = peerset;
  try {
    const params = new URLSearchParams(location.search);
    await peerset.initialize({
      worker: params.get('worker') !== '0',
      transferChannels: params.get('transfer') === '0' ? false : undefined,
    });
    await openDB(settings);
  } catch (err) {
    openFailed(err);
    $('#status-pill').className = 'pill pill-bad';
    $('#status-pill').textContent = 'not open';
    return;
  }
  statsTimer = setInterval(refreshStats, STATS_INTERVAL);
}

window.addEventListener('pagehide', () => {
  clearInterval(statsTimer);
  db?.close();
});

start();
