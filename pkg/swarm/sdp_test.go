package swarm

import (
	"errors"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/wire"
)

// pionLikeOffer is an offer as native pion writes it (loopback candidates):
// one sha-256 fingerprint, at session level.
const pionLikeOffer = "v=0\r\no=- 1733250731973728614 1796036982 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
	"a=msid-semantic:WMS *\r\n" +
	"a=fingerprint:sha-256 06:F8:FE:CB:9E:2A:7A:3A:1A:D7:7E:9E:19:6E:8C:4C:4D:A2:4D:82:28:A9:DC:12:F2:1A:E2:CD:E7:9C:16:39\r\n" +
	"a=extmap-allow-mixed\r\na=group:BUNDLE 0\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n" +
	"a=sctp-port:5000\r\na=max-message-size:65536\r\na=ice-ufrag:TrSEshYRuEpqIFgQ\r\na=ice-pwd:LgELPjKJkFpPXSwdpuJiSKNZgLFnWcuo\r\n" +
	"a=candidate:2878742611 1 udp 2130706431 127.0.0.1 34452 typ host ufrag TrSEshYRuEpqIFgQ\r\n" +
	"a=candidate:2878742611 2 udp 2130706431 127.0.0.1 34452 typ host ufrag TrSEshYRuEpqIFgQ\r\n" +
	"a=end-of-candidates\r\n"

const pionFP = "sha-256 06:F8:FE:CB:9E:2A:7A:3A:1A:D7:7E:9E:19:6E:8C:4C:4D:A2:4D:82:28:A9:DC:12:F2:1A:E2:CD:E7:9C:16:39"

// browserLikeAnswer is an answer as Chrome, Safari and werift write it: the
// fingerprint at media level.
const browserLikeAnswer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" +
	"a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n" +
	"a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99\r\n" +
	"a=setup:active\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"

const (
	digest256 = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
	digest384 = "01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20:21:22:23:24:25:26:27:28:29:2A:2B:2C:2D:2E:2F:30"
)

// sdpWith builds a minimal SDP with the given session-level and media-level
// attribute lines.
func sdpWith(session, media []string) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	for _, l := range session {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n")
	for _, l := range media {
		b.WriteString(l + "\r\n")
	}
	return b.String()
}

func TestSDPFingerprint(t *testing.T) {
	ok := func(name, sdp, want string) struct{ name, sdp, want, errHas string } {
		return struct{ name, sdp, want, errHas string }{name, sdp, want, ""}
	}
	bad := func(name, sdp, errHas string) struct{ name, sdp, want, errHas string } {
		return struct{ name, sdp, want, errHas string }{name, sdp, "", errHas}
	}
	tests := []struct{ name, sdp, want, errHas string }{
		ok("pion: session level", pionLikeOffer, pionFP),
		ok("browsers and werift: media level", browserLikeAnswer, "sha-256 "+digest256),
		ok("upper-case hash name, lower-case hex", sdpWith([]string{"a=fingerprint:SHA-256 " + strings.ToLower(digest256)}, nil), "sha-256 "+digest256),
		ok("LF line endings", strings.ReplaceAll(pionLikeOffer, "\r\n", "\n"), pionFP),

		// The splice: the stack and peerset must not read different lines.
		bad("sha-384 at session level, sha-256 at media level",
			sdpWith([]string{"a=fingerprint:sha-384 " + digest384}, []string{"a=fingerprint:sha-256 " + digest256}),
			"2 a=fingerprint lines (sha-384 at session level, sha-256 at media section 1)"),
		bad("sha-256 at session level, sha-384 at media level",
			sdpWith([]string{"a=fingerprint:sha-256 " + digest256}, []string{"a=fingerprint:sha-384 " + digest384}), "2 a=fingerprint lines"),
		bad("two sha-256 lines at session level",
			sdpWith([]string{"a=fingerprint:sha-256 " + digest256, "a=fingerprint:sha-256 " + digest256}, nil), "2 a=fingerprint lines"),
		bad("two sha-256 lines at media level",
			sdpWith(nil, []string{"a=fingerprint:sha-256 " + digest256, "a=fingerprint:sha-256 " + digest256}), "2 a=fingerprint lines"),
		bad("a second line in another case", sdpWith([]string{"a=fingerprint:sha-256 " + digest256}, []string{"A=FINGERPRINT:SHA-384 " + digest384}), "2 a=fingerprint lines"),
		bad("a second line hidden behind a bare CR",
			sdpWith([]string{"a=fingerprint:sha-256 " + digest256 + "\ra=fingerprint:sha-384 " + digest384}, nil), "2 a=fingerprint lines"),
		bad("sha-384 only", sdpWith([]string{"a=fingerprint:sha-384 " + digest384}, nil), `"sha-384" fingerprint at session level; only sha-256`),
		bad("SHA-1 only, upper case", sdpWith(nil, []string{"a=fingerprint:SHA-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"}), `"SHA-1" fingerprint at media section 1`),
		bad("none", sdpWith(nil, []string{"a=setup:actpass"}), "no a=fingerprint line"),
		bad("no digest", sdpWith([]string{"a=fingerprint:sha-256"}, nil), "malformed"),
		bad("short digest", sdpWith([]string{"a=fingerprint:sha-256 AB:CD"}, nil), "not 32 colon-separated hex bytes"),
		bad("digest with a trailing space", sdpWith([]string{"a=fingerprint:sha-256 " + digest256 + " "}, nil), "not 32 colon-separated hex bytes"),
		bad("two spaces", sdpWith([]string{"a=fingerprint:sha-256  " + digest256}, nil), "not 32 colon-separated hex bytes"),
		bad("not hex", sdpWith([]string{"a=fingerprint:sha-256 " + strings.ReplaceAll(digest256, "A", "G")}, nil), "not 32 colon-separated hex bytes"),
		bad("fingerprint outside an a=fingerprint line", sdpWith([]string{"a=x-fingerprint:sha-256 " + digest256}, nil), "malformed"),
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sdpFingerprint(tc.sdp)
			if tc.errHas == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrFingerprint) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("got %q, %v; want an ErrFingerprint saying %q", got, err, tc.errHas)
			}
		})
	}
}

// TestOfferWithTwoFingerprintsIsRefused checks that a forwarded offer whose
// SDP could be read two ways is refused before any connection is set up,
// with an error naming the fingerprint.
func TestOfferWithTwoFingerprintsIsRefused(t *testing.T) {
	r := testRoom(t, Config{Room: "r"})
	var got []error
	r.OnJoinError(func(_ string, err error) { got = append(got, err) })
	spliced := strings.Replace(pionLikeOffer, "a=fingerprint:sha-256 ", "a=fingerprint:sha-384 "+digest384+"\r\na=x-was:", 1) +
		"a=fingerprint:sha-256 " + digest256 + "\r\n"
	sealed, err := wire.SealSDP(r.sdpKey, spliced)
	if err != nil {
		t.Fatal(err)
	}
	r.handleOffer(trackerRoute{r.trackers[0]}, &wire.ForwardedOffer{Action: wire.TrackerActionAnnounce, Offer: wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: sealed},
		OfferID: "offer000000000000000", PeerID: "aaaaaaaaaaaaaaaaaaaa", InfoHash: r.infoHash})
	if len(got) != 1 || !errors.Is(got[0], ErrFingerprint) || !strings.Contains(got[0].Error(), "sha-384 at session level") {
		t.Fatalf("join errors %v, want one ErrFingerprint naming the sha-384 fingerprint", got)
	}
	r.mu.Lock()
	n := len(r.peers)
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d peers set up for a refused offer", n)
	}
}
