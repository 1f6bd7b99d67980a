package swarm

import "fmt"

// The WebRTC layer differs by platform: pion natively (webrtc_other.go),
// the browser's own RTCPeerConnection and RTCDataChannel in js/wasm
// (peerconnection_js.go, datachannel_js.go). Both offer the same small set
// of types and methods, which is all the rest of the package uses:
//
//	rtcAPI      newRTCAPI(Config), newPeer(iceServers)
//	rtcPeer     createOffer(ctx), createAnswer(ctx, offer), acceptAnswer(ctx, answer),
//	            onStateChange(f), onDataChannel(f), state(), close()
//	rtcChannel  onOpen(f), onClose(f), onLowWater(n, f), bufferedAmount(),
//	            isOpen(), send(b), sendText(s), close()
//	onDataChannelMessage(channel, done, deliver, overflow)
//
// Signalling is non-trickle: an SDP carries its ICE candidates once
// gathering is complete (or after gatherTimeout).

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
