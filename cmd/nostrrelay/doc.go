// Command nostrrelay runs pkg/nostrrelay, a minimal NIP-01 Nostr relay that
// peerset rooms and Trystero Nostr-strategy peers can signal through:
//
//	go run ./cmd/nostrrelay --addr 127.0.0.1:7000
//
// It prints the ws:// URL on stdout and stops cleanly on SIGINT or SIGTERM.
// The flags set the relay's bounds (pkg/nostrrelay's package documentation
// lists each and its default). Events live in memory only. It is a native
// program; under js/wasm it only reports that it cannot run.
package main
