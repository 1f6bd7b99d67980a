//go:build !js

package nostrsignal

import (
	"context"
	"errors"

	"github.com/coder/websocket"
)

// wsConn adapts github.com/coder/websocket to Conn (native builds only: in
// js/wasm a room passes its own byte-bounded browser socket as Config.Dial,
// see websocket_js.go).
type wsConn struct{ c *websocket.Conn }

// DialWebSocket is the default Dialer natively: github.com/coder/websocket.
func DialWebSocket(ctx context.Context, url string, readLimit int64) (Conn, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(readLimit)
	return wsConn{c}, nil
}

var errBinary = errors.New("relay sent a binary message")

func (w wsConn) Read(ctx context.Context) ([]byte, error) {
	typ, data, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errBinary
	}
	return data, nil
}

func (w wsConn) Write(ctx context.Context, data []byte) error {
	return w.c.Write(ctx, websocket.MessageText, data)
}

func (w wsConn) Close() error { return w.c.Close(websocket.StatusNormalClosure, "") }
