// Package tracker is a WebTorrent-compatible WebSocket tracker: the signaling
// server Trystero's torrent strategy (and a peerset swarm) announces to. It
// relays offers to other peers of a swarm (peers that share an info_hash)
// and answers back to the offerer, behaving like bittorrent-tracker's ws
// server, with one difference: a peer_id belongs to the connection that
// registered it in a swarm until that connection closes (bittorrent-tracker
// moves it to whichever connection announces it last, which lets anyone who
// saw a peer_id take the answers meant for it). Every map and queue a client
// feeds is bounded in size and time: see Config and docs/protocol.md
// ("Tracker limits"). The server is an http.Handler and is not built for
// js/wasm.
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
