// Command tracker runs a WebTorrent-compatible WebSocket tracker for peerset
// and Trystero rooms:
//
//	go run ./cmd/tracker --addr 127.0.0.1:8000
//
// It prints the ws:// URL on stdout, serves JSON stats at /stats, and stops
// cleanly on SIGINT or SIGTERM. With --static DIR the same address also
// serves the files under DIR (as for make demo: the page and the tracker it
// announces to on one loopback port); it never serves dot-files, directory
// listings, files behind symbolic links out of DIR, or databases (bbolt files,
// recognised by their header, and *.db). The flags set the tracker's caps
// (connections, connections per address, messages per second, swarms and
// peers): docs/protocol.md "Tracker limits" lists them. It is a native
// program; under js/wasm it only reports that it cannot run.
package main
