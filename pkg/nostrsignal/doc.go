// Package nostrsignal finds the peers of a room through Nostr relays, on the
// wire of Trystero's Nostr strategy (the trystero package's default, 0.25.4;
// docs/nostr-signalling.md describes it): announcements, SDP offers, answers
// and trickled ICE candidates travel as signed ephemeral Nostr events whose
// kind and "x" tag derive from the room's topic.
//
// A Client keeps one connection per relay (reconnecting with backoff),
// subscribes to the room topic and to our own peer topic, announces us in
// Trystero's phases (at once, after 233 ms, 533 ms and 1333 ms, then every
// 60 s), verifies every incoming event (id, BIP-340 signature, topic, kind,
// age, payload shape) and hands the room a Signal: "peer X announced",
// "offer / answer / candidate from peer X". Sealed SDPs stay opaque here:
// the room seals and opens them with its key (pkg/swarm SealSDP/OpenSDP).
// The package knows nothing of WebRTC and builds for js/wasm.
//
// Bounds: one relay message is at most Config.MaxMessageBytes (default
// 128 KiB; a longer one ends the connection), a payload at most
// MaxContentBytes, ids at most MaxIDLength; events older or newer than
// Config.MaxAge are dropped; at most 64 announcements per connection await
// the relay's OK.
package nostrsignal
