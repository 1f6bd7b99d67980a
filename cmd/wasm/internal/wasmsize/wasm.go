//go:build !js

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// module is what this tool reads of a WebAssembly binary.
type module struct {
	imports int            // imported functions: they come first in the function index space
	bodies  [][]byte       // the code section's function bodies, in order
	names   map[int]string // function index → name (name section)
	data    []byte         // the data section, whole
}

var errFormat = errors.New("not a WebAssembly binary this tool reads")

func parse(b []byte) (*module, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errFormat
	}
	m := &module{names: map[int]string{}}
	for p := 8; p < len(b); {
		id := b[p]
		size, n := binary.Uvarint(b[p+1:])
		start := p + 1 + n
		if n <= 0 || size > uint64(len(b)-start) {
			return nil, fmt.Errorf("%w: truncated section %d", errFormat, id)
		}
		body := b[start : start+int(size)]
		p = start + int(size)
		var err error
		switch id {
		case 0:
			err = m.custom(body)
		case 2:
			err = m.importSection(body)
		case 10:
			err = m.codeSection(body)
		case 11:
			m.data = body
		}
		if err != nil {
			return nil, err
		}
	}
	if len(m.names) == 0 {
		return nil, fmt.Errorf("%w: no name section (built with -s?)", errFormat)
	}
	return m, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<31 {
		r.err = errFormat
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errFormat
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (m *module) importSection(body []byte) error {
	r := &reader{b: body}
	for range r.uvarint() {
		r.bytes(r.uvarint()) // module
		r.bytes(r.uvarint()) // name
		kind := r.bytes(1)
		if r.err != nil {
			return r.err
		}
		switch kind[0] {
		case 0: // function: type index
			r.uvarint()
			m.imports++
		default:
			return fmt.Errorf("%w: import of kind %d", errFormat, kind[0])
		}
	}
	return r.err
}

func (m *module) codeSection(body []byte) error {
	r := &reader{b: body}
	for range r.uvarint() {
		m.bodies = append(m.bodies, r.bytes(r.uvarint()))
	}
	return r.err
}

func (m *module) custom(body []byte) error {
	r := &reader{b: body}
	if string(r.bytes(r.uvarint())) != "name" {
		return nil
	}
	for len(r.b) > 0 && r.err == nil {
		id := r.bytes(1)
		sub := &reader{b: r.bytes(r.uvarint())}
		if r.err != nil || id[0] != 1 { // function names
			continue
		}
		for range sub.uvarint() {
			idx := sub.uvarint()
			m.names[idx] = string(sub.bytes(sub.uvarint()))
		}
		if sub.err != nil {
			return sub.err
		}
	}
	return r.err
}

func (m *module) codeTotal() int {
	n := 0
	for _, b := range m.bodies {
		n += len(b)
	}
	return n
}

func (m *module) codeBytes() []byte { return bytes.Join(m.bodies, nil) }

// byPackage groups the function bodies by the package (see group) that
// deps names them after. The linker writes "pkg/path.Func" with slashes as
// underscores after the module's domain ("github.com_x_y.Func").
func (m *module) byPackage(deps []string) map[string][]byte {
	type prefix struct{ text, pkg string }
	var prefixes []prefix
	for _, d := range deps {
		prefixes = append(prefixes, prefix{d + ".", d}, prefix{strings.ReplaceAll(d, "/", "_") + ".", d})
	}
	// Longest first, so that a package wins over its parent directory.
	for i := 1; i < len(prefixes); i++ {
		for j := i; j > 0 && len(prefixes[j].text) > len(prefixes[j-1].text); j-- {
			prefixes[j], prefixes[j-1] = prefixes[j-1], prefixes[j]
		}
	}
	out := map[string][]byte{}
	for i, body := range m.bodies {
		name := m.names[m.imports+i]
		pkg := "(unnamed: generated wrappers, type equality)"
		if strings.HasPrefix(name, "main.") {
			name = "github.com/peersetdb/peerset/cmd/wasm" + name[len("main"):]
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p.text) {
				pkg = group(p.pkg)
				break
			}
		}
		out[pkg] = append(out[pkg], body...)
	}
	return out
}
