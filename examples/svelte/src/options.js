// The room's options from the page's query parameters:
//   ?room=NAME                  default "peerset-svelte"
//   ?tracker=ws://HOST:PORT/    default the server this page came from
//   ?moderation=open|standard|strict
//   ?ice=none                   no STUN servers (host candidates only)
// A loopback tracker implies ?ice=none: peers on this machine need no STUN.
export function optionsFromURL(href = window.location.href) {
  const url = new URL(href);
  const q = url.searchParams;
  const wsScheme = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const tracker = q.get('tracker') || `${wsScheme}//${url.host}/`;
  const options = {
    room: q.get('room') || 'peerset-svelte',
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
