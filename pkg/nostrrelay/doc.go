// Package nostrrelay is a minimal NIP-01 Nostr relay: enough for peerset's
// tests of signalling through relays (the Trystero Nostr strategy) and for
// self-hosting a small relay beside cmd/tracker. It is not a general-purpose
// relay: it keeps events in memory only and implements NIP-01 alone.
//
// It accepts EVENT (the id and the BIP-340 signature are verified with
// pkg/record; the answer is ["OK", id, true|false, reason] with the NIP-01
// reason prefixes "invalid:", "duplicate:", "rate-limited:", "blocked:",
// "error:"), REQ with the filters ids, authors, kinds, #<letter>, since,
// until and limit (stored events, newest first, then EOSE, then live events)
// and CLOSE; anything it cannot decode is answered with NOTICE, and the
// connection stays open. Ephemeral events (kinds 20000–29999, which is where
// Trystero's signalling lives) are sent to matching subscriptions and never
// stored. Replaceable (0, 3, 10000–19999) and addressable (30000–39999)
// events keep only the newest per pubkey and kind (and d tag). NIP-09
// deletions, NIP-42 AUTH and COUNT are not implemented (COUNT and AUTH get a
// NOTICE).
//
// Everything a client can make the relay hold is bounded; Config lists each
// bound and its default:
//
//   - MaxConnections (default 1024): further WebSocket upgrades get HTTP 503;
//   - MaxMessageBytes (default 128 KiB): a longer message closes the
//     connection (WebSocket status 1009); MaxEventBytes (default 64 KiB)
//     bounds one event's JSON;
//   - MaxSubscriptions per connection (default 32): a REQ over it is
//     answered CLOSED "blocked: …"; a REQ holds at most MaxFiltersPerReq
//     filters of at most MaxFilterValues values each, and is itself one
//     message, so a connection's filters hold at most about
//     MaxSubscriptions × MaxMessageBytes (4 MiB by default);
//   - RatePerSecond and Burst (default 20/s, burst 60) per connection: a
//     message over the rate is answered OK false or CLOSED "rate-limited: …"
//     (or NOTICE) and otherwise ignored;
//   - MaxStoredEvents and MaxStoredBytes (default 10,000 events, 32 MiB):
//     the oldest stored events go first;
//   - MaxLimit (default 500): the most stored events one filter returns;
//   - SendQueue (default 256 messages) per connection and WriteTimeout
//     (default 10 s): a client that falls further behind is disconnected;
//   - IdleTimeout (default 5 min): a connection that sends nothing for that
//     long is closed (Trystero re-announces every 60 s);
//   - MaxFutureSkew (default 15 min): events dated further ahead are refused.
//
// Every event is matched against every subscription of every connection
// (no index by kind or tag): fine for tests and a small community relay, not
// for thousands of busy clients.
//
// The server is native only (build tag !js); the message decoder
// (ParseClientMessage) and encoders build everywhere.
package nostrrelay
