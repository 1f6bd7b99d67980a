//go:build !js

package swarm

import (
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// newWebRTCAPI builds the pion API of a room. Natively it bounds incoming
// data-channel messages and, with LoopbackCandidates, confines ICE to the
// loopback interface.
func newWebRTCAPI(cfg Config) *webrtc.API {
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
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// onDataChannelMessage routes the channel's messages, in order, to deliver.
// Native pion calls OnMessage from the channel's read loop, one message at a
// time, so a blocking deliver applies backpressure (SCTP flow control holds
// the sender back): nothing queues up, and overflow is never called. The
// returned function releases platform resources.
func onDataChannelMessage(dc *webrtc.DataChannel, _ <-chan struct{}, deliver func(data []byte, isString bool), _ func()) (release func()) {
	dc.OnMessage(func(m webrtc.DataChannelMessage) { deliver(m.Data, m.IsString) })
	return func() {}
}
