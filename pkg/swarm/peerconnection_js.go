//go:build js && wasm

package swarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall/js"
)

// In the browser, RTCPeerConnection exists only on the page's main thread
// (Window), while this program may run in a dedicated Worker. So peer
// connections are reached through a host object that the JavaScript shim
// installs as globalThis.__peersetRTC before it starts the program. In a
// worker the host relays each call to the main thread, which creates the
// RTCPeerConnection and transfers its RTCDataChannel to the worker (or,
// where a browser cannot transfer one, forwards its bytes over a
// MessagePort); on the main thread the host calls RTCPeerConnection itself.
// Either way Go sees the same small interface (js/engine.js implements it):
//
//	host.available                      true when the page has WebRTC
//	host.create(iceServers, gatherMs)   → pc
//	pc.listen(onState(name), onChannel(ch))   null listeners: stop
//	pc.offer()        → Promise<SDP>    opens the "data" channel (onChannel), offer, gathering done
//	pc.answer(sdp)    → Promise<SDP>    applies an offer, answer, gathering done
//	pc.accept(sdp)    → Promise         applies the answer to our offer
//	pc.candidate(json) → Promise        adds a trickled remote ICE candidate (RTCIceCandidateInit JSON)
//	pc.close()
//	ch.listen(onOpen, onClose, onMessage(Uint8Array|string), onLow)
//	ch.send(Uint8Array), ch.sendText(string), ch.close()
//	ch.bufferedAmount, ch.readyState, ch.lowWater = n
//
// Signalling is non-trickle: the host resolves offer and answer once ICE
// gathering is complete, or after gatherMs with what was gathered.

// rtcHostName is the global the shim installs the host under.
const rtcHostName = "__peersetRTC"

// ErrNoWebRTC means the page offers no WebRTC, or the program was started
// without the shim's WebRTC host.
var ErrNoWebRTC = errors.New("no WebRTC in this browser (RTCPeerConnection is missing), or peerset.wasm was started without js/peerset.js")

// ICEServer is a STUN or TURN server for WebRTC (RTCIceServer).
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// rtcAPI creates the peer connections of a room through the host.
type rtcAPI struct{}

// newRTCAPI returns the browser's API; Config.LoopbackCandidates does not
// apply (the browser decides which candidates it gathers).
func newRTCAPI(Config) *rtcAPI { return &rtcAPI{} }

// WebRTCAvailable reports whether peer connections can be made: the shim's
// host is installed and the page has RTCPeerConnection.
func WebRTCAvailable() bool {
	h := js.Global().Get(rtcHostName)
	return h.Type() == js.TypeObject && h.Get("available").Truthy()
}

func (a *rtcAPI) newPeer(iceServers []ICEServer) (*rtcPeer, error) {
	host := js.Global().Get(rtcHostName)
	if host.Type() != js.TypeObject {
		return nil, fmt.Errorf("failed to create peer connection: %w", ErrNoWebRTC)
	}
	servers := make([]any, 0, len(iceServers))
	for _, s := range iceServers {
		urls := make([]any, len(s.URLs))
		for i, u := range s.URLs {
			urls[i] = u
		}
		o := map[string]any{"urls": urls}
		if s.Username != "" {
			o["username"] = s.Username
		}
		if s.Credential != "" {
			o["credential"] = s.Credential
		}
		servers = append(servers, o)
	}
	v, err := jsCall(host, "create", js.ValueOf(servers), gatherTimeout.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("failed to create peer connection: %w", err)
	}
	p := &rtcPeer{v: v}
	p.onStateFn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 && args[0].Type() == js.TypeString {
			p.st.Store(int32(parseConnState(args[0].String())))
		}
		p.mu.Lock()
		f := p.stateFn
		p.mu.Unlock()
		if f != nil {
			f()
		}
		return nil
	})
	p.onChannelFn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) == 0 || args[0].Type() != js.TypeObject {
			return nil
		}
		p.addChannel(newRTCChannel(args[0]))
		return nil
	})
	if _, err := jsCall(v, "listen", p.onStateFn, p.onChannelFn); err != nil {
		p.release()
		_, _ = jsCall(v, "close")
		return nil, fmt.Errorf("failed to create peer connection: %w", err)
	}
	return p, nil
}

// rtcPeer is one peer connection, held by the host.
type rtcPeer struct {
	v                      js.Value
	st                     atomic.Int32 // connState
	onStateFn, onChannelFn js.Func

	mu        sync.Mutex
	stateFn   func()
	channelFn func(*rtcChannel)
	pending   []*rtcChannel // channels not yet taken by createOffer or onDataChannel
	channels  []*rtcChannel // every channel, released with the connection
	closed    bool
}

func (p *rtcPeer) addChannel(c *rtcChannel) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.release()
		_ = c.close()
		return
	}
	p.channels = append(p.channels, c)
	f := p.channelFn
	if f == nil {
		p.pending = append(p.pending, c)
	}
	p.mu.Unlock()
	if f != nil {
		f(c)
	}
}

func (p *rtcPeer) createOffer(ctx context.Context) (*rtcChannel, string, error) {
	sdp, err := p.describe(ctx, "offer")
	if err != nil {
		return nil, "", fmt.Errorf("failed to create offer: %w", err)
	}
	p.mu.Lock()
	var dc *rtcChannel
	if len(p.pending) > 0 {
		dc = p.pending[0]
		p.pending = p.pending[1:]
	}
	p.mu.Unlock()
	if dc == nil {
		return nil, "", errors.New("failed to create offer: the WebRTC host opened no data channel")
	}
	return dc, sdp, nil
}

func (p *rtcPeer) createAnswer(ctx context.Context, offer string) (string, error) {
	sdp, err := p.describe(ctx, "answer", offer)
	if err != nil {
		return "", fmt.Errorf("failed to answer offer: %w", err)
	}
	return sdp, nil
}

// describe runs offer or answer on the host and returns the local SDP.
func (p *rtcPeer) describe(ctx context.Context, method string, args ...any) (string, error) {
	promise, err := jsCall(p.v, method, args...)
	if err != nil {
		return "", err
	}
	v, err := await(ctx, promise)
	if err != nil {
		return "", err
	}
	if v.Type() != js.TypeString {
		return "", fmt.Errorf("the WebRTC host's %s gave no SDP", method)
	}
	return v.String(), nil
}

func (p *rtcPeer) acceptAnswer(ctx context.Context, answer string) error {
	promise, err := jsCall(p.v, "accept", answer)
	if err == nil {
		_, err = await(ctx, promise)
	}
	if err != nil {
		return fmt.Errorf("failed to apply answer: %w", err)
	}
	return nil
}

// addCandidate applies a trickled remote ICE candidate on the host.
func (p *rtcPeer) addCandidate(ctx context.Context, c iceCandidate) error {
	promise, err := jsCall(p.v, "candidate", c.json())
	if err == nil {
		_, err = await(ctx, promise)
	}
	if err != nil {
		return fmt.Errorf("failed to add ICE candidate: %w", err)
	}
	return nil
}

func (p *rtcPeer) onStateChange(f func()) {
	p.mu.Lock()
	p.stateFn = f
	p.mu.Unlock()
}

func (p *rtcPeer) onDataChannel(f func(*rtcChannel)) {
	p.mu.Lock()
	p.channelFn = f
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, c := range pending {
		f(c)
	}
}

func (p *rtcPeer) state() connState { return connState(p.st.Load()) }

// close closes the connection and its channels and releases the callbacks.
func (p *rtcPeer) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	channels := p.channels
	p.channels, p.pending = nil, nil
	p.mu.Unlock()
	for _, c := range channels {
		c.release()
	}
	_, _ = jsCall(p.v, "listen", js.Null(), js.Null())
	_, err := jsCall(p.v, "close")
	p.release()
	p.st.Store(int32(connClosed))
	if err != nil {
		return fmt.Errorf("failed to close peer connection: %w", err)
	}
	return nil
}

func (p *rtcPeer) release() {
	p.onStateFn.Release()
	p.onChannelFn.Release()
}
