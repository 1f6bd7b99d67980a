// Package swarm is peerset's transport: it joins a room through WebTorrent
// trackers and connects to the room's other peers over WebRTC data channels,
// byte-compatible with Trystero's torrent strategy (0.23.1–0.25.4, and the
// action framing of 0.26 from its main branch), so a Trystero app in the same room is a peer like any other. It gives the
// layer above (the peerset protocol: its own handshake, sync) peers that
// passed Trystero's handshake, and typed actions to and from them.
//
// Join (or NewRoom, then Start once handlers are registered) returns a Room.
// The room keeps a connection to every tracker (reconnecting with jittered
// exponential backoff for as long as it is open), announces with a pool of up
// to three sealed, non-trickle offers in phases (warm-up, steady, dormant),
// answers the offers of others following the glare rule, keeps a bounded
// mesh (mesh.go: offers below DormantAfterPeers peers, answers none at
// MeshHigh, prunes down to MeshDegree above it), signals through the mesh
// with DormantNeedsVouch (meshsignal.go: peer exchange, sealed offers and
// answers relayed by vouched mesh peers, so a room heals without trackers),
// signals through Nostr relays with Config.Relays (relaysignal.go: Trystero
// 0.25.4's Nostr strategy over pkg/nostrsignal, beside or instead of the
// trackers, trickled candidates applied),
// runs one pion PeerConnection per remote peer with Trystero's "data"
// channel and room frames, actions in Trystero 0.25 or 0.26 framing (chosen
// per peer by the first byte of its first action; Config.ActionWire says
// what to send first), the password challenge and @_hsready, and reports peers through
// OnPeerJoin, OnPeerLeave, OnViolation and OnJoinError. Peer.Send sends an
// ActionMessage; Room.Handle receives them by action type.
//
// What a peer can make a room hold before anyone is authenticated is
// bounded in bytes and time (docs/protocol.md, "Transport limits"): a
// forwarded offer costs O(1) and no goroutine of its own, at most
// MaxConnecting connections are set up at once (the oldest makes room),
// MaxPeers bounds the open ones, an SDP must carry exactly one SHA-256 DTLS
// fingerprint (so the one the handshake above signs is the one DTLS
// checked), and reassembly holds at most MaxPartialMessages messages and
// MaxPartialBytes per peer, each for at most PartialTimeout without
// progress. The room never bans anyone by itself.
//
// The wire formats (room topics and ids, the sealed SDP format, the tracker
// messages, Trystero 0.25 and 0.26 action framing, Trystero's internal actions
// and the mesh signalling payloads) are pkg/wire's; actionwire.go makes the
// per-peer choice between the two action framings. Everything builds for
// js/wasm; the platform differences live in webrtc_other.go (pion),
// peerconnection_js.go and datachannel_js.go (the browser's WebRTC),
// websocket_*.go, behind the small transport seam of rtc.go. MemNet
// (memnet.go) is a second implementation of that seam, in memory with per-link
// latency and loss, for pkg/swarm/swarmsim; only MemNet.NewRoom selects it,
// never a Config.
package swarm
