// Package wire holds peerset's wire formats, byte-compatible with Trystero's
// torrent strategy (0.23.1–0.25.4, and the action framing of 0.26 from its
// main branch), as pure codecs without WebRTC or I/O, so that the swarm
// (pkg/swarm), the tracker (pkg/tracker, cmd/tracker) and the tracker on
// Cloudflare Workers (worker/) share one implementation and a tracker links
// no WebRTC stack.
//
// What it holds: room topics, info_hash, room token and random ids
// (topic.go); the sealed SDP format (seal.go); the WebTorrent tracker
// messages (tracker_msg.go); the room and presence frames and Trystero 0.25
// action chunks with their encoder and bounded Reassembler (frame.go);
// Trystero 0.26 action frames and their receiver with admission (frame26.go);
// Trystero's internal actions and password handshake (actions.go); and the
// payloads of signalling through the mesh (meshsignal_msg.go). Every decoder
// returns an error on bad input, never panics, and bounds what it holds;
// docs/protocol.md describes the formats.
package wire
