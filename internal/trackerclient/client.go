//go:build !js

// Package trackerclient is the tests' WebSocket client of a WebTorrent
// tracker: it speaks the protocol's raw messages (announces with sealed
// offers, answers, failures), so that the tests of pkg/tracker, cmd/tracker
// and the Workers tracker (worker/test) drive a tracker with one client
// instead of copies. It fails the test on anything unexpected.
package trackerclient

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

	"github.com/peersetdb/peerset/pkg/wire"
)

// ReadTimeout bounds each read, below the test's own deadline, so that a
// read that waits for a message that never comes names the client.
const ReadTimeout = 10 * time.Second

// Trystero's id alphabet (trystero-wire.md §2.1).
const idAlphabet = "0123456789AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz"

// RandomID returns a fresh 20-character id in Trystero's alphabet, so that
// tests sharing a tracker have swarms and peers of their own.
func RandomID() string {
	b := make([]byte, wire.IDLength)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// Client is one tracker connection of a test. ID is the peer_id it
// announces with; Name is how failures name it.
type Client struct {
	T    testing.TB
	Ctx  context.Context
	WS   *websocket.Conn
	Name string
	ID   string
}

// Dial connects to url (ws://…) for the whole test: ctx bounds every
// operation, and the connection closes when the test ends.
func Dial(ctx context.Context, t testing.TB, url, name, id string) *Client {
	t.Helper()
	c, _, err := DialFrom(ctx, t, url, name, id, "")
	if err != nil {
		t.Fatalf("%s: failed to dial %s: %v", name, url, err)
	}
	return c
}

// DialFrom is Dial from a local address of the 127/8 block (Linux answers
// on all of it; "" lets the system choose), so that a test can be several
// clients to a per-address cap. It returns the HTTP status of a refused
// upgrade rather than failing the test.
func DialFrom(ctx context.Context, t testing.TB, url, name, id, localIP string) (*Client, int, error) {
	t.Helper()
	var opts *websocket.DialOptions
	if localIP != "" {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
		opts = &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}}
	}
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &Client{T: t, Ctx: ctx, WS: ws, Name: name, ID: id}, 0, nil
}

// SendRaw sends data as one text message, valid for the tracker or not.
func (c *Client) SendRaw(data []byte) {
	c.T.Helper()
	if err := c.WS.Write(c.Ctx, websocket.MessageText, data); err != nil {
		c.T.Fatalf("%s: failed to send: %v", c.Name, err)
	}
}

// Send encodes m as the protocol does and sends it.
func (c *Client) Send(m wire.TrackerMessage) {
	c.T.Helper()
	data, err := wire.EncodeTrackerMessage(m)
	if err != nil {
		c.T.Fatalf("%s: %v", c.Name, err)
	}
	c.SendRaw(data)
}

// SendJSON sends v encoded as is, valid for the tracker or not.
func (c *Client) SendJSON(v any) {
	c.T.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.T.Fatalf("%s: %v", c.Name, err)
	}
	c.SendRaw(data)
}

// RecvRaw reads the next message, waiting at most ReadTimeout.
func (c *Client) RecvRaw() []byte {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, ReadTimeout)
	defer cancel()
	_, data, err := c.WS.Read(ctx)
	if err != nil {
		c.T.Fatalf("%s: failed to read: %v", c.Name, err)
	}
	return data
}

// Recv reads and decodes the next message from the tracker.
func (c *Client) Recv() wire.TrackerMessage {
	c.T.Helper()
	data := c.RecvRaw()
	m, err := wire.DecodeTrackerReply(data)
	if err != nil {
		c.T.Fatalf("%s: the tracker sent %s: %v", c.Name, data, err)
	}
	return m
}

// RecvAs reads the next message and fails the test unless it is a T.
func RecvAs[T wire.TrackerMessage](c *Client) T {
	c.T.Helper()
	m := c.Recv()
	v, ok := m.(T)
	if !ok {
		c.T.Fatalf("%s: got %T %+v, want %T", c.Name, m, m, *new(T))
	}
	return v
}

// Offers returns n offers with ids of prefix (18 characters are kept) and
// a two-digit number, and sealed SDPs that name them.
func Offers(prefix string, n int) []wire.TrackerOffer {
	out := make([]wire.TrackerOffer, n)
	for i := range out {
		out[i] = wire.TrackerOffer{
			OfferID: fmt.Sprintf("%s%02d", prefix[:min(18, len(prefix))], i),
			Offer:   wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: fmt.Sprintf("sealed-offer-%s-%d", prefix, i)},
		}
	}
	return out
}

// Announce sends an announce with offers and returns the reply. Offers are
// sent to the other peers before the reply, so once it is read they are on
// their way.
func (c *Client) Announce(infoHash string, offers []wire.TrackerOffer) *wire.AnnounceReply {
	c.T.Helper()
	c.Send(wire.NewOfferAnnounce(infoHash, c.ID, offers))
	r := RecvAs[*wire.AnnounceReply](c)
	if r.InfoHash != infoHash {
		c.T.Fatalf("%s: reply for %q, want %q", c.Name, r.InfoHash, infoHash)
	}
	return r
}

// ExpectQuiet checks that nothing is waiting for c: an announce on the
// barrier swarm (one no other client uses) must be answered by the very next
// message. It leaves the barrier swarm again.
func (c *Client) ExpectQuiet(barrier string) {
	c.T.Helper()
	c.Send(wire.NewOfferAnnounce(barrier, c.ID, nil))
	m := c.Recv()
	if r, ok := m.(*wire.AnnounceReply); !ok || r.InfoHash != barrier {
		c.T.Fatalf("%s: expected nothing pending, got %T %+v", c.Name, m, m)
	}
	c.Send(&wire.AnnounceRequest{Action: wire.TrackerActionAnnounce, InfoHash: barrier, PeerID: c.ID, Event: "stopped"})
	RecvAs[*wire.AnnounceReply](c)
}

// ExpectFailure reads a failure and checks its reason — exactly want, or,
// when want ends with "…", starting with the rest — and what it answers.
func (c *Client) ExpectFailure(want, action, infoHash string) {
	c.T.Helper()
	f := RecvAs[*wire.TrackerFailure](c)
	if prefix, ok := strings.CutSuffix(want, "…"); ok {
		if !strings.HasPrefix(f.FailureReason, prefix) {
			c.T.Errorf("%s: failure reason %q, want it to start with %q", c.Name, f.FailureReason, prefix)
		}
	} else if f.FailureReason != want {
		c.T.Errorf("%s: failure reason %q, want %q", c.Name, f.FailureReason, want)
	}
	if f.Action != action || f.InfoHash != infoHash {
		c.T.Errorf("%s: failure %+v, want action %q and info_hash %q", c.Name, f, action, infoHash)
	}
}
