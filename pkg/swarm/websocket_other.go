//go:build !js

package swarm

import (
	"context"

	"github.com/coder/websocket"
)

// wsConn is a tracker's WebSocket connection: coder/websocket natively, the
// browser's WebSocket in js/wasm (websocket_js.go).
type wsConn struct{ c *websocket.Conn }

// dialWebSocket opens a WebSocket to url; messages longer than readLimit
// bytes end the connection.
func dialWebSocket(ctx context.Context, url string, readLimit int64) (*wsConn, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(readLimit)
	return &wsConn{c: c}, nil
}

// read returns the next message, and whether it is text.
func (w *wsConn) read(ctx context.Context) (data []byte, text bool, err error) {
	typ, data, err := w.c.Read(ctx)
	return data, typ == websocket.MessageText, err
}

// writeText sends one text message.
func (w *wsConn) writeText(ctx context.Context, data []byte) error {
	return w.c.Write(ctx, websocket.MessageText, data)
}

// close sends a normal close frame with reason and waits for the other
// side's (callers bound the wait).
func (w *wsConn) close(reason string) error {
	return w.c.Close(websocket.StatusNormalClosure, reason)
}

// closeNow drops the connection without a close handshake.
func (w *wsConn) closeNow() error { return w.c.CloseNow() }
