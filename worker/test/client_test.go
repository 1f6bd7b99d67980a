//go:build !js

package test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/pkg/swarm"
)

// Trystero's id alphabet (trystero-wire.md §2.1).
const idAlphabet = "0123456789AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz"

// randomID returns a fresh 20-character id, so that every check has its own
// swarms and peers on a tracker the checks share.
func randomID() string {
	b := make([]byte, swarm.IDLength)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// client is a tracker client speaking raw protocol messages.
type client struct {
	t    *testing.T
	ctx  context.Context
	ws   *websocket.Conn
	name string
	id   string
}

func dial(t *testing.T, url, name string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("%s: failed to dial %s: %v", name, url, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &client{t: t, ctx: ctx, ws: ws, name: name, id: randomID()}
}

// dialFrom dials url from a local loopback address of the 127/8 block
// (Linux answers on all of it), so that a test can be several clients to a
// per-address cap. It returns the HTTP status of a refused upgrade.
func dialFrom(t *testing.T, url, name, localIP string) (*client, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &client{t: t, ctx: ctx, ws: ws, name: name, id: randomID()}, 0, nil
}

func (c *client) sendRaw(data []byte) {
	c.t.Helper()
	if err := c.ws.Write(c.ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("%s: failed to send: %v", c.name, err)
	}
}

func (c *client) send(m swarm.TrackerMessage) {
	c.t.Helper()
	data, err := swarm.EncodeTrackerMessage(m)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	c.sendRaw(data)
}

// sendJSON sends v encoded as is, valid for the tracker or not.
func (c *client) sendJSON(v any) {
	c.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	c.sendRaw(data)
}

func (c *client) recvRaw() []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("%s: failed to read: %v", c.name, err)
	}
	return data
}

func (c *client) recv() swarm.TrackerMessage {
	c.t.Helper()
	data := c.recvRaw()
	m, err := swarm.DecodeTrackerReply(data)
	if err != nil {
		c.t.Fatalf("%s: the tracker sent %s: %v", c.name, data, err)
	}
	return m
}

func recvAs[T swarm.TrackerMessage](c *client) T {
	c.t.Helper()
	m := c.recv()
	v, ok := m.(T)
	if !ok {
		c.t.Fatalf("%s: got %T %+v, want %T", c.name, m, m, *new(T))
	}
	return v
}

func testOffers(prefix string, n int) []swarm.TrackerOffer {
	out := make([]swarm.TrackerOffer, n)
	for i := range out {
		out[i] = swarm.TrackerOffer{
			OfferID: fmt.Sprintf("%s%02d", prefix[:18], i),
			Offer:   swarm.SessionDescription{Type: swarm.SDPTypeOffer, SDP: fmt.Sprintf("sealed-offer-%s-%d", prefix, i)},
		}
	}
	return out
}

// announce sends an announce with offers and returns the reply. Offers are
// sent to the other peers before the reply, so once it is read they are on
// their way.
func (c *client) announce(infoHash string, offers []swarm.TrackerOffer) *swarm.AnnounceReply {
	c.t.Helper()
	c.send(swarm.NewOfferAnnounce(infoHash, c.id, offers))
	r := recvAs[*swarm.AnnounceReply](c)
	if r.InfoHash != infoHash {
		c.t.Fatalf("%s: reply for %q, want %q", c.name, r.InfoHash, infoHash)
	}
	return r
}

// expectQuiet checks that nothing is waiting for c: an announce on a swarm
// of its own must be answered by the very next message.
func (c *client) expectQuiet() {
	c.t.Helper()
	barrier := randomID()
	c.send(swarm.NewOfferAnnounce(barrier, c.id, nil))
	m := c.recv()
	if r, ok := m.(*swarm.AnnounceReply); !ok || r.InfoHash != barrier {
		c.t.Fatalf("%s: expected nothing pending, got %T %+v", c.name, m, m)
	}
	c.send(&swarm.AnnounceRequest{Action: swarm.TrackerActionAnnounce, InfoHash: barrier, PeerID: c.id, Event: "stopped"})
	recvAs[*swarm.AnnounceReply](c)
}

// expectFailure reads a failure and checks its reason: exactly want, or,
// when want ends with "…", starting with the rest.
func (c *client) expectFailure(want, action, infoHash string) {
	c.t.Helper()
	f := recvAs[*swarm.TrackerFailure](c)
	if prefix, ok := strings.CutSuffix(want, "…"); ok {
		if !strings.HasPrefix(f.FailureReason, prefix) {
			c.t.Errorf("%s: failure reason %q, want it to start with %q", c.name, f.FailureReason, prefix)
		}
	} else if f.FailureReason != want {
		c.t.Errorf("%s: failure reason %q, want %q", c.name, f.FailureReason, want)
	}
	if f.Action != action || f.InfoHash != infoHash {
		c.t.Errorf("%s: failure %+v, want action %q and info_hash %q", c.name, f, action, infoHash)
	}
}
