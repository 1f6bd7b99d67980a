// Package tracker is a WebTorrent-compatible WebSocket tracker: the signaling
// server Trystero's torrent strategy (and a peerset swarm) announces to. It
// relays offers to other peers of a swarm (peers that share an info_hash)
// and answers back to the offerer, behaving like bittorrent-tracker's ws
// server. The server is an http.Handler and is not built for js/wasm.
package tracker

// Stats is a snapshot of the tracker's state, served as JSON at /stats.
type Stats struct {
	// Connections is the number of open WebSockets.
	Connections int `json:"connections"`
	// Swarms is the number of info_hashes with at least one peer.
	Swarms int `json:"swarms"`
	// Peers is the number of (info_hash, peer_id) memberships.
	Peers int `json:"peers"`
	// Seeders is how many of Peers announced left=0 (passive peers).
	Seeders int `json:"seeders"`
}
