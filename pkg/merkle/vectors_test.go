package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// The layout of testdata/vectors.json, written by interop/vectors_test.go from go-nostr's
// independent negentropy implementation.
type vectorSet struct {
	Seed   uint64   `json:"seed"`
	Span   uint64   `json:"span"`
	Ranges [][2]int `json:"ranges"`
}

type vectorFile struct {
	Fingerprints []struct {
		Name   string    `json:"name"`
		Set    vectorSet `json:"set"`
		Ranges [][2]int  `json:"ranges"`
		Want   []string  `json:"want"`
		Root   string    `json:"root"`
	} `json:"fingerprints"`
	Starts []struct {
		Name    string    `json:"name"`
		Set     vectorSet `json:"set"`
		Message string    `json:"message"`
	} `json:"starts"`
	Exchanges []struct {
		Name           string    `json:"name"`
		InitiatorSet   vectorSet `json:"initiator_set"`
		ResponderSet   vectorSet `json:"responder_set"`
		Granularity    string    `json:"granularity"`
		FrameSizeLimit int       `json:"frame_size_limit"`
		Messages       []string  `json:"messages"`
		Have           []string  `json:"have"`
		Need           []string  `json:"need"`
	} `json:"exchanges"`
}

// items derives the set: id = sha256("peerset-merkle-vector" ‖ u32le(seed) ‖ u32le(i)),
// timestamp = 1700000000 + (first 8 id bytes, little-endian) mod span.
func (s vectorSet) items() []Item {
	var out []Item
	var buf [29]byte
	copy(buf[:], "peerset-merkle-vector")
	for _, r := range s.Ranges {
		for i := r[0]; i < r[1]; i++ {
			binary.LittleEndian.PutUint32(buf[21:], uint32(s.Seed))
			binary.LittleEndian.PutUint32(buf[25:], uint32(i))
			id := sha256.Sum256(buf[:])
			out = append(out, Item{Timestamp: 1_700_000_000 + binary.LittleEndian.Uint64(id[:8])%s.Span, ID: id})
		}
	}
	return out
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	vf, err := readVectorFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(vf.Fingerprints) == 0 || len(vf.Starts) == 0 || len(vf.Exchanges) == 0 {
		t.Fatal("vector file has an empty section")
	}
	return vf
}

func readTestdata(name string) ([]byte, error) { return os.ReadFile("testdata/" + name) }

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFingerprintVectors(t *testing.T) {
	for _, v := range loadVectors(t).Fingerprints {
		t.Run(v.Name, func(t *testing.T) {
			items := v.Set.items()
			tree := treeOf(items)
			if got := tree.Root().String(); got != v.Root {
				t.Fatalf("root %s, want %s", got, v.Root)
			}
			sorted := slices.Clone(items)
			slices.SortFunc(sorted, Item.Compare)
			for i, r := range v.Ranges {
				if got := tree.FingerprintOfRanks(r[0], r[1]).String(); got != v.Want[i] {
					t.Fatalf("range %v: %s, want %s", r, got, v.Want[i])
				}
				if got := FingerprintOf(sorted[r[0]:r[1]]).String(); got != v.Want[i] {
					t.Fatalf("FingerprintOf range %v: %s, want %s", r, got, v.Want[i])
				}
			}
		})
	}
}

// TestStartMessageVectors decodes go-nostr's opening messages, re-encodes them byte for byte and
// checks every range against our tree of the same set.
func TestStartMessageVectors(t *testing.T) {
	for _, v := range loadVectors(t).Starts {
		t.Run(v.Name, func(t *testing.T) {
			raw := mustHex(t, v.Message)
			msg, err := DecodeMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := msg.Encode(); !bytes.Equal(got, raw) {
				t.Fatalf("re-encoded message differs:\n got %x\nwant %x", got, raw)
			}
			tree := treeOf(v.Set.items())
			lower := MinBound
			for _, rg := range msg.Ranges {
				switch rg.Mode {
				case ModeFingerprint:
					if got := tree.Fingerprint(lower, rg.Upper); got != rg.Fingerprint {
						t.Fatalf("range up to %v: fingerprint %s, theirs %s", rg.Upper, got, rg.Fingerprint)
					}
				case ModeIDList:
					var ours [][IDSize]byte
					tree.Ascend(lower, rg.Upper, func(it Item) bool { ours = append(ours, it.ID); return true })
					if !slices.Equal(ours, rg.IDs) {
						t.Fatalf("id list up to %v differs", rg.Upper)
					}
				default:
					t.Fatalf("unexpected mode %d in an opening message", rg.Mode)
				}
				lower = rg.Upper
			}
			if lines := strings.Count(msg.String(), "\n"); lines != len(msg.Ranges) {
				t.Fatalf("String shows %d lines for %d ranges", lines, len(msg.Ranges))
			}
			if len(msg.Ranges) == 0 || !msg.Ranges[len(msg.Ranges)-1].Upper.IsInfinite() {
				t.Fatal("opening message does not reach the infinite bound")
			}
		})
	}
}

// TestExchangeVectors replays transcripts of our initiator against go-nostr's responder: we must
// produce the recorded messages byte for byte and learn the recorded differences.
func TestExchangeVectors(t *testing.T) {
	for _, v := range loadVectors(t).Exchanges {
		t.Run(v.Name, func(t *testing.T) {
			g := GranularityNone
			if v.Granularity != "" {
				var err error
				if g, err = ParseGranularity(v.Granularity); err != nil {
					t.Fatal(err)
				}
			}
			in, err := NewInitiator(treeOf(v.InitiatorSet.items()), Options{Granularity: g, FrameSizeLimit: v.FrameSizeLimit})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := in.Initiate()
			if err != nil {
				t.Fatal(err)
			}
			var have, need []string
			for i := 0; i < len(v.Messages); i += 2 {
				if got := hex.EncodeToString(msg); got != v.Messages[i] {
					t.Fatalf("message %d differs from the transcript", i)
				}
				reply := mustHex(t, v.Messages[i+1])
				next, h, n, done, err := in.Reconcile(reply)
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range h {
					have = append(have, hex.EncodeToString(id[:]))
				}
				for _, id := range n {
					need = append(need, hex.EncodeToString(id[:]))
				}
				if done != (i+2 == len(v.Messages)) {
					t.Fatalf("done=%v after message %d of %d", done, i+1, len(v.Messages))
				}
				msg = next
			}
			slices.Sort(have)
			slices.Sort(need)
			if !slices.Equal(slices.Compact(have), v.Have) || !slices.Equal(slices.Compact(need), v.Need) {
				t.Fatalf("have %d need %d, want %d and %d", len(have), len(need), len(v.Have), len(v.Need))
			}
		})
	}
}
