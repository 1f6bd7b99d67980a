// Package swarm connects peers of a room: tracker signaling, WebRTC peers,
// Trystero-compatible (v2) data-channel framing, the handshake state machine
// and the sync driver.
//
// The wire-level groundwork lives here: room topics and ids (topic.go), the
// sealed SDP format (seal.go), the WebTorrent tracker messages
// (tracker_msg.go) and the v2 frame and action-chunk codecs (frame.go). All
// of it is pure Go and builds for js/wasm as well as natively.
package swarm
