//go:build !js

package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// ICEServer is a STUN or TURN server for WebRTC. Natively it is pion's own
// type, so that pion's values can be passed as they are.
type ICEServer = webrtc.ICEServer

// rtcAPI creates the peer connections of a room: pion natively.
type rtcAPI struct{ api *webrtc.API }

// newRTCAPI builds the pion API of a room. Natively it bounds incoming
// data-channel messages and, with LoopbackCandidates, confines ICE to the
// loopback interface.
func newRTCAPI(cfg Config) *rtcAPI {
	var se webrtc.SettingEngine
	se.SetSCTPMaxMessageSize(maxSCTPMessageSize)
	if cfg.iceDisconnectedTimeout > 0 {
		se.SetICETimeouts(cfg.iceDisconnectedTimeout, cfg.iceFailedTimeout, cfg.iceKeepaliveInterval)
	}
	if cfg.LoopbackCandidates {
		isLoopback := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetIPFilter(isLoopback)
		se.SetRemoteIPFilter(isLoopback)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	return &rtcAPI{api: webrtc.NewAPI(webrtc.WithSettingEngine(se))}
}

// newPeer creates a peer connection.
func (a *rtcAPI) newPeer(iceServers []ICEServer) (*rtcPeer, error) {
	pc, err := a.api.NewPeerConnection(webrtc.Configuration{ICEServers: iceServers})
	if err != nil {
		return nil, fmt.Errorf("failed to create peer connection: %w", err)
	}
	return &rtcPeer{pc: pc}, nil
}

// rtcPeer is one WebRTC peer connection.
type rtcPeer struct{ pc *webrtc.PeerConnection }

// createOffer opens Trystero's "data" channel and returns it with the local
// offer, once ICE gathering is complete (non-trickle) or gatherTimeout has
// passed (then the SDP carries what was gathered, as in Trystero).
func (p *rtcPeer) createOffer(ctx context.Context) (*rtcChannel, string, error) {
	dc, err := p.pc.CreateDataChannel("data", nil)
	if err != nil {
		return nil, "", fmt.Errorf("failed to create data channel: %w", err)
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return nil, "", fmt.Errorf("failed to create offer: %w", err)
	}
	sdp, err := p.setLocal(ctx, offer)
	if err != nil {
		return nil, "", fmt.Errorf("failed to set local offer: %w", err)
	}
	return &rtcChannel{dc: dc}, sdp, nil
}

// createAnswer applies a remote offer and returns the local answer, once ICE
// gathering is complete (see createOffer).
func (p *rtcPeer) createAnswer(ctx context.Context, offer string) (string, error) {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("failed to apply offer: %w", err)
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("failed to create answer: %w", err)
	}
	sdp, err := p.setLocal(ctx, answer)
	if err != nil {
		return "", fmt.Errorf("failed to set local answer: %w", err)
	}
	return sdp, nil
}

func (p *rtcPeer) setLocal(ctx context.Context, d webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(d); err != nil {
		return "", err
	}
	if err := waitGathering(ctx, gathered); err != nil {
		return "", err
	}
	local := p.pc.LocalDescription()
	if local == nil {
		return "", errors.New("no local description")
	}
	return local.SDP, nil
}

// acceptAnswer applies the remote answer to our offer.
func (p *rtcPeer) acceptAnswer(ctx context.Context, answer string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("failed to apply answer: %w", err)
	}
	return nil
}

// addCandidate applies a trickled remote ICE candidate.
func (p *rtcPeer) addCandidate(_ context.Context, c iceCandidate) error {
	if err := p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid,
		SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}); err != nil {
		return fmt.Errorf("failed to add ICE candidate: %w", err)
	}
	return nil
}

// onStateChange calls f whenever the connection state changes.
func (p *rtcPeer) onStateChange(f func()) {
	p.pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) { f() })
}

// onDataChannel calls f with each data channel the remote peer opens.
func (p *rtcPeer) onDataChannel(f func(*rtcChannel)) {
	p.pc.OnDataChannel(func(dc *webrtc.DataChannel) { f(&rtcChannel{dc: dc}) })
}

// state is the connection state.
func (p *rtcPeer) state() connState {
	switch p.pc.ConnectionState() {
	case webrtc.PeerConnectionStateConnecting:
		return connConnecting
	case webrtc.PeerConnectionStateConnected:
		return connConnected
	case webrtc.PeerConnectionStateDisconnected:
		return connDisconnected
	case webrtc.PeerConnectionStateFailed:
		return connFailed
	case webrtc.PeerConnectionStateClosed:
		return connClosed
	}
	return connNew
}

func (p *rtcPeer) close() error { return p.pc.Close() }

// rtcChannel is one data channel.
type rtcChannel struct{ dc *webrtc.DataChannel }

func (c *rtcChannel) onOpen(f func())  { c.dc.OnOpen(f) }
func (c *rtcChannel) onClose(f func()) { c.dc.OnClose(f) }

// onLowWater calls f whenever the send buffer drains to n bytes or less.
func (c *rtcChannel) onLowWater(n uint64, f func()) {
	c.dc.SetBufferedAmountLowThreshold(n)
	c.dc.OnBufferedAmountLow(f)
}

func (c *rtcChannel) bufferedAmount() uint64  { return c.dc.BufferedAmount() }
func (c *rtcChannel) isOpen() bool            { return c.dc.ReadyState() == webrtc.DataChannelStateOpen }
func (c *rtcChannel) send(b []byte) error     { return c.dc.Send(b) }
func (c *rtcChannel) sendText(s string) error { return c.dc.SendText(s) }
func (c *rtcChannel) close() error            { return c.dc.Close() }

// onDataChannelMessage routes the channel's messages, in order, to deliver.
// Native pion calls OnMessage from the channel's read loop, one message at a
// time, so a blocking deliver applies backpressure (SCTP flow control holds
// the sender back): nothing queues up, and overflow is never called. The
// returned function releases platform resources.
func onDataChannelMessage(c *rtcChannel, _ <-chan struct{}, deliver func(data []byte, isString bool), _ func()) (release func()) {
	c.dc.OnMessage(func(m webrtc.DataChannelMessage) { deliver(m.Data, m.IsString) })
	return func() {}
}

// waitGathering waits until ICE gathering is complete, at most gatherTimeout
// (then the SDP carries what was gathered, as in Trystero).
func waitGathering(ctx context.Context, gathered <-chan struct{}) error {
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("failed to gather ICE candidates: %w", ctx.Err())
	}
}
