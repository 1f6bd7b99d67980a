// The options code the React hook (examples/react/src/usePeerset.js) and
// the Svelte store (examples/svelte/src/peerset-store.js) share: the room's
// options from the page's URL, the key that compares options by value, and
// the turns that keep one room from being opened twice at once. Plain
// JavaScript with no imports, so either app's bundler takes it from here
// (each vite.config.js allows this directory).

/**
 * The room's options from the page's query parameters:
 *   ?room=NAME                  default defaultRoom
 *   ?tracker=ws://HOST:PORT/    default the server this page came from
 *   ?moderation=open|standard|strict
 *   ?ice=none                   no STUN servers (host candidates only)
 * A loopback tracker implies ?ice=none: peers on this machine need no STUN.
 */
export function optionsFromURL(defaultRoom, href = window.location.href) {
  const url = new URL(href);
  const q = url.searchParams;
  const wsScheme = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const tracker = q.get('tracker') || `${wsScheme}//${url.host}/`;
  const options = {
    room: q.get('room') || defaultRoom,
    trackers: [tracker],
  };
  const moderation = q.get('moderation');
  if (moderation) options.moderation = moderation;
  if (q.get('ice') === 'none' || isLoopback(tracker)) options.iceServers = [];
  return options;
}

function isLoopback(tracker) {
  try {
    const host = new URL(tracker).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/**
 * optionsKey compares options by value: a new object literal with the same
 * options (on every render, in every component) is the same room.
 * openOptions(key) gives back the options to open it with.
 */
export function optionsKey(options) {
  return JSON.stringify(options);
}

export function openOptions(key) {
  return JSON.parse(key);
}

// Turns per room (options key): an opening starts only once the previous
// opening of the same options has closed, so a room is never open twice at
// once (React's StrictMode mounting twice, a component destroyed and created
// again, two stores of one room).
const turns = new Map();

/**
 * takeTurn queues an opening of the room with this key. Await `previous`
 * before opening; call `done()` once the database is closed (or was never
 * opened): the next opening of the same room may then start.
 */
export function takeTurn(key) {
  const previous = turns.get(key) ?? Promise.resolve();
  let end;
  const mine = new Promise((resolve) => { end = resolve; });
  const turn = previous.then(() => mine);
  turns.set(key, turn);
  return {
    previous,
    done() {
      end();
      if (turns.get(key) === turn) turns.delete(key);
    },
  };
}
