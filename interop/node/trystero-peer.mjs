// A real Trystero peer (@trystero-p2p/torrent 0.25.4, the torrent strategy,
// or @trystero-p2p/nostr 0.25.4 with strategy "nostr") driven over standard
// input/output, for interop/trystero_test.go and interop/nostr_room_test.go.
//
// Usage: node trystero-peer.mjs '<config JSON>'
//   config: {appId, roomId, trackers: [ws URLs], password?, actions: [types],
//            strategy?: "torrent" | "nostr"}
//   With "nostr", trackers are the Nostr relays (relayConfig.urls).
//
// It joins the room with werift as the WebRTC implementation, only on
// loopback (127.0.0.1 host candidates, no ICE servers), and speaks JSON
// lines:
//   stdout: {"event":"ready","selfId"}            the room is joined
//           {"event":"join","peerId"}              onPeerJoin
//           {"event":"leave","peerId"}             onPeerLeave
//           {"event":"joinError","peerId","error"} onJoinError
//           {"event":"message","action","peerId","kind","data"}
//              kind "string" (data: the string), "json" (data: the value),
//              "binary" (data: base64)
//           {"event":"left"}                       after a leave command
//   stdin:  {"cmd":"send","action","kind","data","target"?} (data as above)
//           {"cmd":"leave"}
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { RTCPeerConnection } from 'werift';

globalThis.WebSocket = WebSocket;

const config = JSON.parse(process.argv[2] ?? '{}');
if (!Array.isArray(config.trackers) || config.trackers.length === 0) {
  throw new Error('config.trackers must list at least one URL: the defaults are public servers');
}
const strategies = { torrent: '@trystero-p2p/torrent', nostr: '@trystero-p2p/nostr' };
const strategy = strategies[config.strategy ?? 'torrent'];
if (!strategy) throw new Error(`unknown strategy ${config.strategy}`);
const { joinRoom, selfId } = await import(strategy);
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// werift options: gather a 127.0.0.1 host candidate and only ever pair
// loopback with loopback, so no packet leaves the machine.
const isLoopback = (host) => host === '127.0.0.1';
const rtcConfig = {
  iceServers: [],
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceFilterCandidatePair: (pair) =>
    isLoopback(pair.remoteCandidate?.host) && isLoopback(pair.protocol?.localCandidate?.host),
};

const room = joinRoom(
  {
    appId: config.appId,
    password: config.password || undefined,
    relayConfig: { urls: config.trackers },
    rtcConfig,
    rtcPolyfill: RTCPeerConnection,
  },
  config.roomId,
  { onJoinError: ({ error, peerId }) => emit({ event: 'joinError', peerId, error }) },
);

const actions = {};
for (const type of config.actions ?? []) {
  const action = room.makeAction(type);
  action.onMessage = (data, { peerId }) => {
    if (data instanceof Uint8Array) {
      emit({ event: 'message', action: type, peerId, kind: 'binary', data: Buffer.from(data).toString('base64') });
    } else if (typeof data === 'string') {
      emit({ event: 'message', action: type, peerId, kind: 'string', data });
    } else {
      emit({ event: 'message', action: type, peerId, kind: 'json', data });
    }
  };
  actions[type] = action;
}
room.onPeerJoin = (peerId) => emit({ event: 'join', peerId });
room.onPeerLeave = (peerId) => emit({ event: 'leave', peerId });

const decode = ({ kind, data }) => {
  switch (kind) {
    case 'binary':
      return new Uint8Array(Buffer.from(data, 'base64'));
    case 'string':
      return String(data);
    default:
      return data;
  }
};

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
    switch (cmd.cmd) {
      case 'send': {
        const action = actions[cmd.action];
        if (!action) throw new Error(`no action ${cmd.action}`);
        await action.send(decode(cmd), cmd.target ? { target: cmd.target } : {});
        break;
      }
      case 'leave':
        await room.leave();
        emit({ event: 'left' });
        process.exit(0);
        break;
      default:
        throw new Error(`unknown command ${cmd.cmd}`);
    }
  } catch (err) {
    emit({ event: 'error', error: String(err?.stack ?? err), line });
  }
});
lines.on('close', () => process.exit(0));

emit({ event: 'ready', selfId });
