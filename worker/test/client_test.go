//go:build !js

package test

import (
	"context"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/trackerclient"
)

// client is the shared tracker test client (internal/trackerclient), with a
// peer_id of its own so that checks sharing a tracker do not meet.
type client = trackerclient.Client

// dialTimeout bounds a client's whole check: wrangler dev answers slower
// than the Go tracker.
const dialTimeout = 20 * time.Second

func dialContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, url, name string) *client {
	t.Helper()
	return trackerclient.Dial(dialContext(t), t, url, name, trackerclient.RandomID())
}

// dialFrom dials url from a local loopback address of the 127/8 block, so
// that a test can be several clients to a per-address cap.
func dialFrom(t *testing.T, url, name, localIP string) (*client, int, error) {
	t.Helper()
	return trackerclient.DialFrom(dialContext(t), t, url, name, trackerclient.RandomID(), localIP)
}
