//go:build !js

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// rawThroughput measures what one pion data channel carries on loopback in
// this process: a pair of peer connections with the swarm's SCTP limit and
// loopback-only candidates, one side sending msgSize-byte messages as fast as
// the channel's buffer drains, for d. It returns the bytes per second
// received.
func rawThroughput(ctx context.Context, msgSize int, d time.Duration) (float64, error) {
	var se webrtc.SettingEngine
	se.SetSCTPMaxMessageSize(64 << 10) // as pkg/swarm's peers
	loop := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(loop)
	se.SetRemoteIPFilter(loop)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	a, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, err
	}
	defer a.Close()
	b, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, err
	}
	defer b.Close()

	var received atomic.Int64
	firstAt := make(chan time.Time, 1)
	b.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if received.Add(int64(len(m.Data))) == int64(len(m.Data)) {
				firstAt <- time.Now()
			}
		})
	})
	dc, err := a.CreateDataChannel("data", nil)
	if err != nil {
		return 0, err
	}
	open := make(chan struct{})
	dc.OnOpen(func() { close(open) })
	const high, low = 4 << 20, 1 << 20
	dc.SetBufferedAmountLowThreshold(low)
	drained := make(chan struct{}, 1)
	dc.OnBufferedAmountLow(func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	// Non-trickle: each description carries every candidate.
	exchange := func(from, to *webrtc.PeerConnection, sd webrtc.SessionDescription) error {
		done := webrtc.GatheringCompletePromise(from)
		if err := from.SetLocalDescription(sd); err != nil {
			return err
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		return to.SetRemoteDescription(*from.LocalDescription())
	}
	offer, err := a.CreateOffer(nil)
	if err != nil {
		return 0, err
	}
	if err := exchange(a, b, offer); err != nil {
		return 0, err
	}
	answer, err := b.CreateAnswer(nil)
	if err != nil {
		return 0, err
	}
	if err := exchange(b, a, answer); err != nil {
		return 0, err
	}
	select {
	case <-open:
	case <-time.After(20 * time.Second):
		return 0, errors.New("the raw data channel did not open in 20 s")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	msg := make([]byte, msgSize)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if dc.BufferedAmount() > high {
			select {
			case <-drained:
			case <-time.After(time.Second):
			}
			continue
		}
		if err := dc.Send(msg); err != nil {
			return 0, fmt.Errorf("raw data channel: %w", err)
		}
	}
	got := received.Load()
	var first time.Time
	select {
	case first = <-firstAt:
	default:
		return 0, errors.New("the raw data channel delivered nothing")
	}
	return float64(got) / time.Since(first).Seconds(), nil
}
