//go:build js && wasm

// Command verifybench is the verification-only engine of the
// second-core measurement (js/test/verify-bench.mjs): a Go js/wasm program
// that a pool worker (js/test/fixtures/verify-worker.js) would run beside
// the engine. It registers globalThis.__peersetVerify(bytes, mode), which
// reads NIP-01 events, one per line, from a Uint8Array and returns how many
// passed: mode "copy" only copies the bytes into Go (the cost of moving
// them), "parse" also parses each event (as the engine does anyway), and
// "verify" parses and checks the id and the BIP-340 signature: what a pool
// would take off the engine.
package main

import (
	"bytes"
	"syscall/js"

	"github.com/peersetdb/peerset/pkg/record"
)

func main() {
	js.Global().Set("__peersetVerify", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) < 2 || args[0].Type() != js.TypeObject {
			return -1
		}
		buf := make([]byte, args[0].Get("byteLength").Int())
		js.CopyBytesToGo(buf, args[0])
		mode := args[1].String()
		if mode == "copy" {
			return bytes.Count(buf, []byte{'\n'})
		}
		ok := 0
		for line := range bytes.Lines(buf) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			e, err := record.ParseEvent(line, 0)
			if err != nil {
				continue
			}
			if mode == "verify" && e.Verify() != nil {
				continue
			}
			ok++
		}
		return ok
	}))
	if ready := js.Global().Get("__peersetVerifyReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}
