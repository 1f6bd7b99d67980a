// Package session runs the peerset protocol between two peers of a room, on
// top of any transport that delivers named actions as byte payloads (pkg/swarm's
// WebRTC data channels in practice, in-memory pipes in tests): the handshake
// that proves each side's key for this very connection, a strict state machine
// per peer, the session limits, strikes and bans, and the sync driver that
// keeps the local replica equal to each authenticated peer's with negentropy
// reconciliation (pkg/merkle) and record batches.
//
// It depends on no transport: the facade adapts a transport peer to Link,
// its store, tree and moderation to Replica, and feeds the Manager of the room
// with Attach, Deliver and Detach. The wire protocol is specified in
// docs/protocol.md (Part 4); in short:
//
//   - actions: peerset/hello, peerset/auth, peerset/root, peerset/neg,
//     peerset/neg-reply, peerset/want, peerset/records, peerset/bye, each with
//     a compact JSON payload (negentropy messages and id lists in base64);
//   - handshake: each side sends hello {v, room, pubkey, nonce, limits} on
//     attach and answers the other's hello with auth {sig}, a BIP-340 signature
//     over AuthHash (domain, room, both nonces, both DTLS fingerprints);
//   - states: connecting → open → hello → authenticated → syncing ⇄ idle →
//     closing → closed, with the table in Allowed; anything else is a
//     protocol violation and earns a strike, and past the ledger's threshold
//     the peer is banned by transport id and by key;
//   - sync: roots are announced on authentication, after local changes
//     (debounced) and when idle; the side with the lower hello nonce initiates
//     reconciliation, pushes what only it has and asks (want) for what only
//     the peer has; every record goes through Replica.Offer before it counts.
//
// Everything is pure Go and builds for js/wasm. Manager methods never block on
// the network (except Close), so they may be called from JavaScript callbacks.
package session
