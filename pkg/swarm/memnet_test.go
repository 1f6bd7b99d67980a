//go:build !js

package swarm

import (
	"testing"
	"testing/synctest"
	"time"
)

// A MemNet link is reliable and ordered: with loss, messages arrive late
// (a retransmission timeout per loss), all of them, in order.
func TestMemPipeOrderedUnderLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := NewMemNet(MemNetConfig{Seed: 3, Latency: 10 * time.Millisecond, Loss: 0.3})
		if err != nil {
			t.Fatal(err)
		}
		p := n.newPipe("a", "b", "x")
		var got []int
		done := make(chan struct{})
		p.start(func(m memMsg) {
			if m.closing {
				close(done)
				return
			}
			got = append(got, int(m.data[0]))
		})
		start := time.Now()
		for i := range 100 {
			if err := p.push([]byte{byte(i)}, false, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.push(nil, false, true); err != nil {
			t.Fatal(err)
		}
		<-done
		took := time.Since(start)
		if len(got) != 100 {
			t.Fatalf("%d of 100 messages arrived", len(got))
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("message %d arrived as number %d", v, i)
			}
		}
		if min := 10*time.Millisecond + n.cfg.RTO; took < min {
			t.Errorf("100 messages at 30%% loss took %v, less than one retransmission (%v)", took, min)
		}
		if err := p.push([]byte{1}, false, false); err == nil {
			t.Error("a closed pipe took a message")
		}
	})
}

func TestMemNetConfigRefused(t *testing.T) {
	for _, c := range []MemNetConfig{{Loss: 1}, {Loss: -0.1}, {Latency: -1}, {Latency: time.Millisecond, Jitter: time.Second}, {Unreachable: -0.5}, {Unreachable: 1.5}} {
		if _, err := NewMemNet(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// Synthetic SDPs carry exactly one SHA-256 fingerprint, which the room's
// own check accepts, and name their endpoint.
func TestMemSDP(t *testing.T) {
	sdp := memSDP("peer.1")
	fp, err := sdpFingerprint(sdp)
	if err != nil {
		t.Fatal(err)
	}
	if fp2, _ := sdpFingerprint(memSDP("peer.2")); fp2 == fp {
		t.Error("two endpoints share a fingerprint")
	}
	if id, err := memEndpoint(sdp); err != nil || id != "peer.1" {
		t.Errorf("endpoint %q, %v", id, err)
	}
	if _, err := memEndpoint("v=0\r\n"); err == nil {
		t.Error("an SDP without an endpoint was accepted")
	}
}
