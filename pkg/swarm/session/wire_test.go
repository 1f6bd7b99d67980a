package session

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

func TestAuthHashVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/auth_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Name                string `json:"name"`
			Room                string `json:"room"`
			VerifierNonce       string `json:"verifier_nonce"`
			SignerNonce         string `json:"signer_nonce"`
			SignerFingerprint   string `json:"signer_fingerprint"`
			VerifierFingerprint string `json:"verifier_fingerprint"`
			Hash                string `json:"hash"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	if file.Vectors[0].Room != record.RoomID("peerset", "vectors") {
		t.Fatalf("vector room %s is not record.RoomID(peerset, vectors)", file.Vectors[0].Room)
	}
	for _, v := range file.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			vn, _ := parseHex(v.VerifierNonce, NonceSize)
			sn, _ := parseHex(v.SignerNonce, NonceSize)
			got := AuthHash(v.Room, [NonceSize]byte(vn), [NonceSize]byte(sn), v.SignerFingerprint, v.VerifierFingerprint)
			if hex.EncodeToString(got[:]) != v.Hash {
				t.Fatalf("AuthHash = %x, want %s", got, v.Hash)
			}
		})
	}
}

func TestSignVerifyHash(t *testing.T) {
	key, _ := record.GenerateKey()
	other, _ := record.GenerateKey()
	hash := AuthHash(testRoom, [NonceSize]byte{1}, [NonceSize]byte{2}, "a", "b")
	sig, err := signHash(key, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyHash(key.Public(), hash, sig); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	flipped := sig
	flipped[10] ^= 1
	otherHash := hash
	otherHash[0] ^= 1
	tests := []struct {
		name string
		pk   record.PublicKey
		hash [32]byte
		sig  [64]byte
	}{
		{"other key", other.Public(), hash, sig},
		{"flipped bit", key.Public(), hash, flipped},
		{"other hash", key.Public(), otherHash, sig},
		{"zero signature", key.Public(), hash, [64]byte{}},
		{"invalid key", record.PublicKey{}, hash, sig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyHash(tt.pk, tt.hash, tt.sig); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("verify = %v, want ErrAuthFailed", err)
			}
		})
	}
}

func TestWireRoundTrips(t *testing.T) {
	key, _ := record.GenerateKey()
	lim := Config{}.mustDefaults().limits()
	h := Hello{Version: ProtocolVersion, Room: testRoom, PubKey: key.Public(), Nonce: [NonceSize]byte{9, 8, 7}, Limits: lim}
	gotHello, err := DecodeHello(EncodeHello(h))
	if err != nil || gotHello != h {
		t.Fatalf("hello round trip: %+v, %v", gotHello, err)
	}
	a := auth{Sig: [64]byte{1, 2, 3}}
	if got, err := decodeAuth(encodeAuth(a)); err != nil || got != a {
		t.Fatalf("auth round trip: %+v, %v", got, err)
	}
	r := rootMsg{Root: merkle.Fingerprint{0xab}, Count: 12345}
	if got, err := decodeRoot(encodeRoot(r)); err != nil || got != r {
		t.Fatalf("root round trip: %+v, %v", got, err)
	}
	tree := merkle.NewTree()
	in, _ := merkle.NewInitiator(tree, merkle.Options{})
	msg, _ := in.Initiate()
	n := negMsg{SID: 42, Msg: msg}
	if got, err := decodeNeg(encodeNeg(n), lim.Frame); err != nil || !reflect.DeepEqual(got, n) {
		t.Fatalf("neg round trip: %+v, %v", got, err)
	}
	w := wantMsg{IDs: [][32]byte{{1}, {2}, {3}}}
	if got, err := decodeWant(encodeWant(w), lim.Want); err != nil || !reflect.DeepEqual(got, w) {
		t.Fatalf("want round trip: %+v, %v", got, err)
	}
	e, _ := record.New(record.Draft{Text: "hi"}, key, testRoom, record.Limits{})
	payload := appendRecords(nil, [][]byte{e.AppendJSON(nil)}, [][32]byte{{7}})
	got, err := decodeRecords(payload, lim)
	if err != nil || len(got.Events) != 1 || !reflect.DeepEqual(got.Missing, [][32]byte{{7}}) {
		t.Fatalf("records round trip: %+v, %v", got, err)
	}
	if parsed, err := record.ParseEvent(got.Events[0], 0); err != nil || parsed.ID != e.ID {
		t.Fatalf("records event: %v", err)
	}
	b := byeMsg{Code: ByeBanned, Reason: "strikes"}
	if got, err := decodeBye(encodeBye(b)); err != nil || got != b {
		t.Fatalf("bye round trip: %+v, %v", got, err)
	}
	if long := encodeBye(byeMsg{Code: "x", Reason: strings.Repeat("é", 600)}); len(long) > MaxControlBytes {
		t.Fatalf("bye not truncated: %d bytes", len(long))
	} else if _, err := decodeBye(long); err != nil {
		t.Fatalf("truncated bye does not decode: %v", err)
	}
}

func TestDecodersRefuse(t *testing.T) {
	lim := Config{}.mustDefaults().limits()
	hex64 := strings.Repeat("ab", 32)
	key, _ := record.GenerateKey()
	goodHello := func(mutate func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(EncodeHello(Hello{Version: 1, Room: hex64, PubKey: key.Public(), Limits: lim}), &m)
		mutate(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name    string
		decode  func([]byte) error
		payload []byte
		want    error
	}{
		{"hello not json", func(p []byte) error { _, err := DecodeHello(p); return err }, []byte("hello"), ErrProtocolViolation},
		{"hello array", func(p []byte) error { _, err := DecodeHello(p); return err }, []byte(`[1]`), ErrProtocolViolation},
		{"hello v2", func(p []byte) error { _, err := DecodeHello(p); return err }, []byte(`{"v":2}`), ErrVersionMismatch},
		{"hello without v", func(p []byte) error { _, err := DecodeHello(p); return err }, goodHello(func(m map[string]any) { delete(m, "v") }), ErrProtocolViolation},
		{"hello uppercase hex", func(p []byte) error { _, err := DecodeHello(p); return err }, goodHello(func(m map[string]any) { m["room"] = strings.ToUpper(hex64) }), ErrProtocolViolation},
		{"hello key off the curve", func(p []byte) error { _, err := DecodeHello(p); return err }, goodHello(func(m map[string]any) { m["pubkey"] = strings.Repeat("ff", 32) }), ErrProtocolViolation},
		{"hello short nonce", func(p []byte) error { _, err := DecodeHello(p); return err }, goodHello(func(m map[string]any) { m["nonce"] = "00" }), ErrProtocolViolation},
		{"hello tiny frame", func(p []byte) error { _, err := DecodeHello(p); return err }, goodHello(func(m map[string]any) { m["limits"].(map[string]any)["frame"] = 10 }), ErrProtocolViolation},
		{"hello no limits", func(p []byte) error { _, err := DecodeHello(p); return err }, goodHello(func(m map[string]any) { delete(m, "limits") }), ErrProtocolViolation},
		{"hello invalid utf-8", func(p []byte) error { _, err := DecodeHello(p); return err }, []byte("{\"v\":1,\"x\":\"\xff\"}"), ErrProtocolViolation},
		{"auth short sig", func(p []byte) error { _, err := decodeAuth(p); return err }, []byte(`{"sig":"00"}`), ErrProtocolViolation},
		{"auth null", func(p []byte) error { _, err := decodeAuth(p); return err }, []byte(`null`), ErrProtocolViolation},
		{"root negative count", func(p []byte) error { _, err := decodeRoot(p); return err }, []byte(`{"root":"` + strings.Repeat("0", 32) + `","count":-1}`), ErrProtocolViolation},
		{"root float count", func(p []byte) error { _, err := decodeRoot(p); return err }, []byte(`{"root":"` + strings.Repeat("0", 32) + `","count":1.5}`), ErrProtocolViolation},
		{"neg sid zero", func(p []byte) error { _, err := decodeNeg(p, lim.Frame); return err }, []byte(`{"sid":0,"msg":"YQ=="}`), ErrProtocolViolation},
		{"neg bad base64", func(p []byte) error { _, err := decodeNeg(p, lim.Frame); return err }, []byte(`{"sid":1,"msg":"YQ="}`), ErrProtocolViolation},
		{"neg empty", func(p []byte) error { _, err := decodeNeg(p, lim.Frame); return err }, []byte(`{"sid":1,"msg":""}`), ErrProtocolViolation},
		{"neg over frame", func(p []byte) error { _, err := decodeNeg(p, 4096); return err }, encodeNeg(negMsg{SID: 1, Msg: make([]byte, 4097)}), ErrProtocolViolation},
		{"neg oversized", func(p []byte) error { _, err := decodeNeg(p, 4096); return err }, []byte(`{"sid":1,"msg":"` + strings.Repeat("A", 8000) + `"}`), ErrMessageTooLarge},
		{"want ragged ids", func(p []byte) error { _, err := decodeWant(p, lim.Want); return err }, []byte(`{"ids":"YWJj"}`), ErrProtocolViolation},
		{"want duplicate ids", func(p []byte) error { _, err := decodeWant(p, lim.Want); return err }, encodeWant(wantMsg{IDs: [][32]byte{{1}, {1}}}), ErrProtocolViolation},
		{"records events not array", func(p []byte) error { _, err := decodeRecords(p, lim); return err }, []byte(`{"events":{}}`), ErrProtocolViolation},
		{"records empty", func(p []byte) error { _, err := decodeRecords(p, lim); return err }, []byte(`{"events":[]}`), ErrProtocolViolation},
		{"records oversized", func(p []byte) error { _, err := decodeRecords(p, Limits{Bytes: 20, Records: 1, Want: 1}); return err }, []byte(`{"events":[{},{},{},{}]}`), ErrMessageTooLarge},
		{"bye empty code", func(p []byte) error { _, err := decodeBye(p); return err }, []byte(`{"code":"","reason":""}`), ErrProtocolViolation},
		{"bye missing reason", func(p []byte) error { _, err := decodeBye(p); return err }, []byte(`{"code":"x"}`), ErrProtocolViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.decode(tt.payload); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAllowedTable(t *testing.T) {
	authenticated := []State{StateAuthenticated, StateSyncing, StateIdle}
	for _, action := range Actions {
		if len(action) > MaxActionBytes {
			t.Errorf("action %q is longer than %d bytes", action, MaxActionBytes)
		}
		for st := StateConnecting; st <= StateClosed; st++ {
			var want bool
			switch action {
			case ActionHello:
				want = st == StateOpen
			case ActionAuth:
				want = st == StateHello
			case ActionBye:
				want = st >= StateOpen && st <= StateIdle
			default:
				for _, a := range authenticated {
					want = want || st == a
				}
			}
			if got := Allowed(st, action); got != want {
				t.Errorf("Allowed(%s, %s) = %v, want %v", st, action, got, want)
			}
		}
	}
	if Allowed(StateIdle, "peerset/unknown") {
		t.Error("an unknown action is allowed")
	}
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	d, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if d.HandshakeTimeout != DefaultHandshakeTimeout || d.SyncStallTimeout != 3*DefaultIdleRootInterval || d.MaxBatchBytes != DefaultMaxBatchBytes {
		t.Fatalf("defaults not applied: %+v", d)
	}
	if got := (Config{}).MaxMessageBytes(ActionRecords); got != DefaultMaxBatchBytes {
		t.Fatalf("MaxMessageBytes(records) = %d", got)
	}
	if got := (Config{}).MaxMessageBytes("peerset/x"); got != 0 {
		t.Fatalf("MaxMessageBytes(unknown) = %d", got)
	}
	bad := []Config{
		{FrameSizeLimit: 100},
		{MaxBatchBytes: 100},
		{MaxWantIDs: MaxWantIDs + 1},
		{HandshakeTimeout: -1},
		{FloodRate: -1},
		{MaxPeers: -1},
		{Granularity: merkle.Granularity(99)},
	}
	for _, c := range bad {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if _, err := NewManager(Config{}, nil, testRoom, NewMemoryReplica(nil)); err == nil {
		t.Error("manager without key accepted")
	}
}

func TestIsIntegrityFailure(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{record.ErrBadSignature, true},
		{record.ErrWrongRoom, true},
		{record.ErrIDMismatch, true},
		{record.ErrMalformedEvent, true},
		{&record.LimitError{Limit: "MaxRecordBytes"}, false},
		{errors.New("bad words"), false},
	}
	for _, tt := range tests {
		if got := IsIntegrityFailure(tt.err); got != tt.want {
			t.Errorf("IsIntegrityFailure(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
