package swarm

import (
	"context"
	"fmt"
)

// The WebRTC layer differs by platform: pion natively (webrtc_other.go),
// the browser's own RTCPeerConnection and RTCDataChannel in js/wasm
// (peerconnection_js.go, datachannel_js.go). Both offer the same small set
// of types and methods, which is all the rest of the package uses:
//
//	rtcAPI      newRTCAPI(Config), newPeer(iceServers)
//	rtcPeer     createOffer(ctx), createAnswer(ctx, offer), acceptAnswer(ctx, answer),
//	            addCandidate(ctx, c), onStateChange(f), onDataChannel(f), state(), close()
//	rtcChannel  onOpen(f), onClose(f), onLowWater(n, f), bufferedAmount(),
//	            isOpen(), send(b), sendText(s), close()
//	onDataChannelMessage(channel, done, deliver, overflow)
//
// Our signalling is non-trickle: an SDP carries its ICE candidates once
// gathering is complete (or after gatherTimeout). Remote candidates trickled
// after an SDP (Trystero's Nostr strategy) are applied with addCandidate,
// once the remote description is set.

// connState is a peer connection's state, as RTCPeerConnection's
// connectionState names it.
type connState int

const (
	connNew connState = iota
	connConnecting
	connConnected
	connDisconnected
	connFailed
	connClosed
)

var connStateNames = [...]string{"new", "connecting", "connected", "disconnected", "failed", "closed"}

func (s connState) String() string {
	if s >= 0 && int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return fmt.Sprintf("connState(%d)", int(s))
}

// parseConnState reads a connectionState name; unknown names are "new".
func parseConnState(name string) connState {
	for i, n := range connStateNames {
		if n == name {
			return connState(i)
		}
	}
	return connNew
}

// transport is where a room gets its connections and tracker sockets: the
// platform's WebRTC stack and WebSockets (platformTransport), or the
// in-memory network of a simulation (MemNet). Nothing in Config selects
// the in-memory one: only MemNet.NewRoom builds a room on it.
type transport interface {
	// newPeer creates a peer connection.
	newPeer() (peerConn, error)
	// dial opens a tracker socket to url; messages longer than readLimit
	// bytes end it.
	dial(ctx context.Context, url string, readLimit int64) (trackerSocket, error)
}

// peerConn is one peer connection (see the method list above).
type peerConn interface {
	createOffer(ctx context.Context) (dataChannel, string, error)
	createAnswer(ctx context.Context, offer string) (string, error)
	acceptAnswer(ctx context.Context, answer string) error
	// addCandidate applies a trickled remote ICE candidate; the remote
	// description must be set.
	addCandidate(ctx context.Context, c iceCandidate) error
	onStateChange(f func())
	onDataChannel(f func(dataChannel))
	state() connState
	close() error
}

// dataChannel is one data channel (see the method list above); onMessage
// is onDataChannelMessage.
type dataChannel interface {
	onOpen(f func())
	onClose(f func())
	onLowWater(n uint64, f func())
	bufferedAmount() uint64
	isOpen() bool
	send(b []byte) error
	close() error
	onMessage(done <-chan struct{}, deliver func(data []byte, isString bool), overflow func()) (release func())
}

// trackerSocket is a tracker connection (wsConn on both platforms).
type trackerSocket interface {
	read(ctx context.Context) (data []byte, text bool, err error)
	writeText(ctx context.Context, data []byte) error
	close(reason string) error
	closeNow() error
}

// platformTransport is the real transport: the platform's WebRTC stack
// (pion natively, the browser's in js/wasm) and WebSockets.
type platformTransport struct {
	api        *rtcAPI
	iceServers []ICEServer
}

func (t platformTransport) newPeer() (peerConn, error) {
	pc, err := t.api.newPeer(t.iceServers)
	if err != nil {
		return nil, err
	}
	return platformPeer{pc}, nil
}

func (t platformTransport) dial(ctx context.Context, url string, readLimit int64) (trackerSocket, error) {
	c, err := dialWebSocket(ctx, url, readLimit)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// platformPeer adapts the platform's rtcPeer to peerConn.
type platformPeer struct{ *rtcPeer }

func (p platformPeer) createOffer(ctx context.Context) (dataChannel, string, error) {
	dc, sdp, err := p.rtcPeer.createOffer(ctx)
	if err != nil {
		return nil, "", err
	}
	return platformChannel{dc}, sdp, nil
}

func (p platformPeer) onDataChannel(f func(dataChannel)) {
	p.rtcPeer.onDataChannel(func(c *rtcChannel) { f(platformChannel{c}) })
}

// platformChannel adapts the platform's rtcChannel to dataChannel.
type platformChannel struct{ *rtcChannel }

func (c platformChannel) onMessage(done <-chan struct{}, deliver func(data []byte, isString bool), overflow func()) func() {
	return onDataChannelMessage(c.rtcChannel, done, deliver, overflow)
}
