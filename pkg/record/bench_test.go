package record

import (
	"strings"
	"testing"
	"time"
)

// benchRecord is a record of about 300 bytes of JSON content overhead plus a
// 200-byte text, the size used in the measured baselines.
func benchRecord(b *testing.B, sk *SecretKey, room string) *Event {
	b.Helper()
	e, err := New(Draft{Text: strings.Repeat("peerset ", 25), Link: "https://example.org/a", CreatedAt: time.Unix(1700000000, 0)}, sk, room, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkCreate: a record made and signed (serialise, SHA-256, BIP-340 sign).
func BenchmarkCreate(b *testing.B) {
	sk, _ := GenerateKey()
	room := RoomID("peerset", "bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Draft{Text: strings.Repeat("peerset ", 25), Link: "https://example.org/a"}, sk, room, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkVerify: the full check of a decoded record (limits, structure,
// room, id recomputed, signature).
func BenchmarkVerify(b *testing.B) {
	sk, _ := GenerateKey()
	room := RoomID("peerset", "bench")
	e := benchRecord(b, sk, room)
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckRecord(e, room, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkVerifyJSON: as BenchmarkVerify, from the JSON text on the wire.
func BenchmarkVerifyJSON(b *testing.B) {
	sk, _ := GenerateKey()
	room := RoomID("peerset", "bench")
	raw, _ := benchRecord(b, sk, room).MarshalJSON()
	b.ReportAllocs()
	for b.Loop() {
		e, err := ParseEvent(raw, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := CheckRecord(e, room, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSerializeID: the JSON.stringify-exact serialisation and SHA-256.
func BenchmarkSerializeID(b *testing.B) {
	sk, _ := GenerateKey()
	e := benchRecord(b, sk, RoomID("peerset", "bench"))
	b.ReportAllocs()
	for b.Loop() {
		_ = e.ComputeID()
	}
}

// BenchmarkVerifySignature: the BIP-340 verification alone, the same work as
// noble's schnorr.verify (x-only key lifted, signature checked over the id).
func BenchmarkVerifySignature(b *testing.B) {
	sk, _ := GenerateKey()
	e := benchRecord(b, sk, RoomID("peerset", "bench"))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.VerifySignature(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParseEvent: decoding a record's JSON (no verification).
func BenchmarkParseEvent(b *testing.B) {
	sk, _ := GenerateKey()
	raw, _ := benchRecord(b, sk, RoomID("peerset", "bench")).MarshalJSON()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEvent(raw, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvent compares the fast decoder with the encoding/json
// reference it falls back to.
func BenchmarkDecodeEvent(b *testing.B) {
	sk, _ := GenerateKey()
	raw, _ := benchRecord(b, sk, RoomID("peerset", "bench")).MarshalJSON()
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeEventFast(raw); !ok {
				b.Fatal("fell back")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeEventSlow(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
