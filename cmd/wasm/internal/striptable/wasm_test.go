//go:build !js

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// module builds a WebAssembly binary with a type section and a data
// section holding segs.
func module(segs ...segment) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 1, 4, 1, 0x60, 0, 0) // type section: one func type () -> ()
	data := encodeData(segs)
	b = append(b, sectionData)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

func TestStripSplitsTheSegmentAroundTheBlob(t *testing.T) {
	blob := []byte("THE-TABLE")
	in := module(
		segment{offset: 100, data: []byte("abc")},
		segment{offset: 4096, data: append(append([]byte("head"), blob...), []byte("tail")...)},
	)
	out, err := strip(in, blob)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, blob) {
		t.Fatal("the blob is still there")
	}
	segs, err := parseData(dataSection(t, out))
	if err != nil {
		t.Fatal(err)
	}
	want := []segment{{100, []byte("abc")}, {4096, []byte("head")}, {4096 + 4 + int32(len(blob)), []byte("tail")}}
	if len(segs) != len(want) {
		t.Fatalf("%d segments, want %d", len(segs), len(want))
	}
	for i := range want {
		if segs[i].offset != want[i].offset || !bytes.Equal(segs[i].data, want[i].data) {
			t.Errorf("segment %d: at %d %q, want at %d %q", i, segs[i].offset, segs[i].data, want[i].offset, want[i].data)
		}
	}
	// Everything before the data section is untouched.
	if !bytes.Equal(out[:14], in[:14]) {
		t.Error("the sections before the data section changed")
	}
}

func TestStripRefusesToGuess(t *testing.T) {
	blob := []byte("TABLE")
	if _, err := strip(module(segment{0, []byte("nothing here")}), blob); err == nil {
		t.Error("no error when the blob is missing")
	}
	if _, err := strip(module(segment{0, []byte("TABLE and TABLE")}), blob); err == nil {
		t.Error("no error when the blob occurs twice")
	}
	if _, err := strip([]byte("not wasm at all"), blob); !errors.Is(err, errFormat) {
		t.Errorf("got %v for a non-wasm input, want errFormat", err)
	}
	if _, err := strip(module(segment{0, []byte("x")})[:20], blob); err == nil {
		t.Error("no error for a truncated binary")
	}
}

func TestSLEB(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, -1, -64, -65, 4096, 1 << 30, -(1 << 30)} {
		got, n := readSLEB(appendSLEB(nil, v))
		if n <= 0 || got != v {
			t.Errorf("%d came back as %d (n %d)", v, got, n)
		}
	}
}

// dataSection walks the sections of b and returns the data section's body.
func dataSection(t *testing.T, b []byte) []byte {
	t.Helper()
	for p := 8; p < len(b); {
		size, n := binary.Uvarint(b[p+1:])
		body := b[p+1+n : p+1+n+int(size)]
		if b[p] == sectionData {
			return body
		}
		p += 1 + n + int(size)
	}
	t.Fatal("no data section")
	return nil
}

// memory lays segments out as the linear memory they initialise.
func memory(segs []segment) []byte {
	var m []byte
	for _, s := range segs {
		if end := int(s.offset) + len(s.data); end > len(m) {
			m = append(m, make([]byte, end-len(m))...)
		}
		copy(m[s.offset:], s.data)
	}
	return m
}

// TestCapSegmentsMergesTheSmallestGaps: a split past V8's limit of data
// segments (a build the linker wrote at its cap of 100,000) is undone by
// merging the neighbours with the smallest gaps; memory is unchanged.
func TestCapSegmentsMergesTheSmallestGaps(t *testing.T) {
	segs := []segment{{0, []byte("a")}, {10, []byte("bb")}, {13, []byte("c")}, {20, []byte("d")}, {22, []byte("ee")}}
	for _, tc := range []struct {
		max  int
		want []int32 // offsets of the segments left
	}{
		{5, []int32{0, 10, 13, 20, 22}},
		{4, []int32{0, 10, 20, 22}}, // gap 1 (12→13) first
		{3, []int32{0, 10, 20}},     // then the other gap of 1 (21→22)
		{1, []int32{0}},
	} {
		got, err := capSegments(slices.Clone(segs), tc.max)
		if err != nil {
			t.Fatal(err)
		}
		var offsets []int32
		for _, s := range got {
			offsets = append(offsets, s.offset)
		}
		if !slices.Equal(offsets, tc.want) {
			t.Errorf("max %d: segments at %v, want %v", tc.max, offsets, tc.want)
		}
		if !bytes.Equal(memory(got), memory(segs)) {
			t.Errorf("max %d: memory %q, want %q", tc.max, memory(got), memory(segs))
		}
	}
	// Out of address order (as the linker writes its sections): merged by
	// address.
	shuffled := []segment{segs[3], segs[4], segs[0], segs[1], segs[2]}
	got, err := capSegments(shuffled, 3)
	if err != nil || len(got) != 3 || !bytes.Equal(memory(got), memory(segs)) {
		t.Errorf("out of order: %d segments, memory %q, %v; want 3, %q", len(got), memory(got), err, memory(segs))
	}
	if _, err := capSegments([]segment{{10, []byte("abc")}, {11, []byte("x")}}, 1); !errors.Is(err, errFormat) {
		t.Errorf("overlapping segments: got %v, want errFormat", err)
	}
}

// TestStripKeepsTheSegmentLimit: a module at the limit stays at it.
func TestStripKeepsTheSegmentLimit(t *testing.T) {
	blob := []byte("THE-TABLE")
	segs := make([]segment, maxSegments)
	for i := range segs {
		segs[i] = segment{offset: int32(64 * i), data: []byte("seg")}
	}
	segs[7].data = append(append([]byte("head"), blob...), []byte("tail")...)
	out, err := strip(module(segs...), blob)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseData(dataSection(t, out))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != maxSegments {
		t.Errorf("%d segments, want %d", len(got), maxSegments)
	}
	if bytes.Contains(memory(got), blob) {
		t.Error("the blob is still there")
	}
}
