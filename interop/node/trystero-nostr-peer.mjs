// A real Trystero peer on the Nostr strategy (@trystero-p2p/nostr 0.25.4,
// the `trystero` package's default), for interop/nostr_trystero_test.go.
//
// Usage: node trystero-nostr-peer.mjs '<config JSON>'
//   config: {appId, roomId, relays: [ws URLs], password?}
//
// It joins the room through the given relays only (never the library's
// default public relays) with werift as the WebRTC implementation, on
// loopback only, and prints JSON lines:
//   {"event":"ready","selfId"}    the room is joined
//   {"event":"join","peerId"}     onPeerJoin
//   {"event":"leave","peerId"}    onPeerLeave
//   {"event":"joinError","peerId","error"}
// It leaves and exits when standard input closes.
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { RTCPeerConnection } from 'werift';
import { joinRoom, selfId } from '@trystero-p2p/nostr';

globalThis.WebSocket = WebSocket;

const config = JSON.parse(process.argv[2] ?? '{}');
if (!Array.isArray(config.relays) || config.relays.length === 0) {
  throw new Error('config.relays must list at least one relay: the default list is public relays');
}
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

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
    relayConfig: { urls: config.relays },
    rtcConfig,
    rtcPolyfill: RTCPeerConnection,
  },
  config.roomId,
  { onJoinError: ({ error, peerId }) => emit({ event: 'joinError', peerId, error }) },
);
room.onPeerJoin = (peerId) => emit({ event: 'join', peerId });
room.onPeerLeave = (peerId) => emit({ event: 'leave', peerId });

const lines = createInterface({ input: process.stdin });
lines.on('close', async () => {
  await room.leave();
  process.exit(0);
});

emit({ event: 'ready', selfId });
