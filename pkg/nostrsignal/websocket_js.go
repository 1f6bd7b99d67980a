//go:build js

package nostrsignal

import (
	"context"
	"errors"
)

// In js/wasm there is no default dialer: coder/websocket's browser twin
// queues received messages without a byte bound and would link net/http
// into the wasm. pkg/swarm passes its own bounded browser socket as
// Config.Dial.

// DialWebSocket fails in js/wasm: set Config.Dial.
func DialWebSocket(context.Context, string, int64) (Conn, error) {
	return nil, errors.New("nostrsignal: no default WebSocket dialer in js/wasm: set Config.Dial (pkg/swarm does)")
}
