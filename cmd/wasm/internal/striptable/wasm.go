//go:build !js

package main

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// The parts of the WebAssembly binary format this tool touches: sections,
// and active data segments of memory 0 (the only kind the Go linker
// writes).

const sectionData = 11

var errFormat = errors.New("not a WebAssembly binary this tool understands")

type segment struct {
	offset int32 // where the bytes go in linear memory
	data   []byte
}

// strip returns wasm with blob's bytes removed from its data section. blob
// must occur exactly once, within one data segment.
func strip(wasm, blob []byte) ([]byte, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, errFormat
	}
	out := append([]byte(nil), wasm[:8]...)
	found := 0
	for p := 8; p < len(wasm); {
		id := wasm[p]
		size, n := binary.Uvarint(wasm[p+1:])
		start := p + 1 + n
		if n <= 0 || size > uint64(len(wasm)-start) {
			return nil, fmt.Errorf("%w: truncated section %d", errFormat, id)
		}
		body := wasm[start : start+int(size)]
		p = start + int(size)
		if id != sectionData {
			out = append(out, wasm[start-1-n:p]...)
			continue
		}
		segs, err := parseData(body)
		if err != nil {
			return nil, err
		}
		var kept []segment
		for _, s := range segs {
			i := bytes.Index(s.data, blob)
			if i < 0 {
				kept = append(kept, s)
				continue
			}
			found++
			if bytes.Contains(s.data[i+1:], blob) {
				found++
			}
			end := i + len(blob)
			if i > 0 {
				kept = append(kept, segment{offset: s.offset, data: s.data[:i]})
			}
			if end < len(s.data) {
				kept = append(kept, segment{offset: s.offset + int32(end), data: s.data[end:]})
			}
		}
		kept, err = capSegments(kept, maxSegments)
		if err != nil {
			return nil, err
		}
		newBody := encodeData(kept)
		out = append(out, sectionData)
		out = binary.AppendUvarint(out, uint64(len(newBody)))
		out = append(out, newBody...)
	}
	switch {
	case found == 0:
		return nil, errors.New("the table is not in the data section (built from another version of the library?)")
	case found > 1:
		return nil, fmt.Errorf("the table occurs %d times in the data section: refusing to guess", found)
	}
	return out, nil
}

// maxSegments is the most data segments a module may have in V8 (and
// what the Go linker writes at most): splitting one more would make the
// module fail to compile in Chromium ("data segments count of 100001
// exceeds internal limit of 100000").
const maxSegments = 100000

// capSegments merges segments that are neighbours in memory, those with
// the smallest gaps first (the gap written as zeros), until at most max
// remain. The Go linker writes its sections' segments in section order,
// not in address order; segments must not overlap.
func capSegments(segs []segment, max int) ([]segment, error) {
	excess := len(segs) - max
	if excess <= 0 {
		return segs, nil
	}
	segs = slices.Clone(segs)
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.offset, b.offset) })
	gap := func(i int) int64 { // between segs[i] and segs[i+1]
		return int64(segs[i+1].offset) - int64(segs[i].offset) - int64(len(segs[i].data))
	}
	order := make([]int, len(segs)-1)
	for i := range order {
		if gap(i) < 0 {
			return nil, fmt.Errorf("%w: data segments overlap at offset %d", errFormat, segs[i+1].offset)
		}
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(gap(a), gap(b)) })
	join := make([]bool, len(segs)) // join[i]: segs[i+1] is appended to segs[i]
	for _, i := range order[:excess] {
		join[i] = true
	}
	out := make([]segment, 0, max)
	for i := 0; i < len(segs); i++ {
		s := segment{offset: segs[i].offset, data: segs[i].data}
		for ; join[i]; i++ {
			s.data = append(append(slices.Clip(s.data), make([]byte, gap(i))...), segs[i+1].data...)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseData(body []byte) ([]segment, error) {
	count, n := binary.Uvarint(body)
	if n <= 0 {
		return nil, fmt.Errorf("%w: data section", errFormat)
	}
	p := n
	segs := make([]segment, 0, count)
	for range count {
		flags, n := binary.Uvarint(body[p:])
		if n <= 0 || flags != 0 {
			return nil, fmt.Errorf("%w: data segment flags %d (only active segments of memory 0)", errFormat, flags)
		}
		p += n
		if p >= len(body) || body[p] != 0x41 { // i32.const
			return nil, fmt.Errorf("%w: data segment offset is not i32.const", errFormat)
		}
		offset, m := readSLEB(body[p+1:])
		if m <= 0 || p+1+m >= len(body) || body[p+1+m] != 0x0b { // end
			return nil, fmt.Errorf("%w: data segment offset expression", errFormat)
		}
		p += 1 + m + 1
		size, n := binary.Uvarint(body[p:])
		if n <= 0 || size > uint64(len(body)-p-n) {
			return nil, fmt.Errorf("%w: truncated data segment", errFormat)
		}
		p += n
		segs = append(segs, segment{offset: int32(offset), data: body[p : p+int(size)]})
		p += int(size)
	}
	if p != len(body) {
		return nil, fmt.Errorf("%w: %d stray bytes after the data segments", errFormat, len(body)-p)
	}
	return segs, nil
}

func encodeData(segs []segment) []byte {
	b := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		b = append(b, 0, 0x41)
		b = appendSLEB(b, int64(s.offset))
		b = append(b, 0x0b)
		b = binary.AppendUvarint(b, uint64(len(s.data)))
		b = append(b, s.data...)
	}
	return b
}

// readSLEB reads a signed LEB128 number; n <= 0 on error.
func readSLEB(b []byte) (v int64, n int) {
	var shift uint
	for i, c := range b {
		if i == 10 {
			return 0, -1
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, 0
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
