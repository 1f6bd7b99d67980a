//go:build js && wasm

package main

import (
	"context"
	"runtime/debug"
	"strconv"
	"syscall/js"

	_ "github.com/peersetdb/peerset/cmd/wasm/internal/basepoints" // secp256k1's table computed, not embedded
	"github.com/peersetdb/peerset/pkg/record"
)

// bridgeReadyName is the global function the shim defines before it runs the
// program; the program calls it with the bridge object once it is ready.
const bridgeReadyName = "__peersetBridgeReady"

// gcPercent is the engine's GC target (GOGC). A WebAssembly memory never
// shrinks, so the heap's peak during a sync stays the tab's footprint for
// its life: 50 instead of Go's 100 keeps that peak lower (a tab holding
// 20k records: 38 MiB of linear memory instead of 49; 50k: 48 instead of
// 60; the sync no slower within the noise: make bench-browser, RSS rows).
// Experiments set it at link time: PEERSET_WASM_LDFLAGS="-X
// main.gcPercent=N" scripts/build-wasm.sh.
var gcPercent = "50"

func main() {
	if n, err := strconv.Atoi(gcPercent); err == nil {
		debug.SetGCPercent(n)
	}
	ctx := context.Background()
	bridge := js.Global().Get("Object").New()
	bridge.Set("protocol", 1) // bumped when the bridge's shape changes
	bridge.Set("generateKey", asyncFunc(func([]js.Value) (any, error) {
		sk, err := record.GenerateKey()
		if err != nil {
			return nil, err
		}
		return jsonString(map[string]string{"npub": sk.Public().Npub(), "nsec": sk.Nsec()})
	}))
	bridge.Set("open", asyncFunc(func(args []js.Value) (any, error) {
		return openHandle(ctx, stringArg(args, 0), argOrUndefined(args, 1), argOrUndefined(args, 2))
	}))

	// The first signature or key needs secp256k1's base-point table, which
	// this build computes (internal/basepoints): start on it now, while the
	// page's first call is on its way and the first open waits for
	// IndexedDB.
	go func() { _, _ = record.GenerateKey() }()

	ready := js.Global().Get(bridgeReadyName)
	if ready.Type() == js.TypeFunction {
		ready.Invoke(bridge)
	} else {
		js.Global().Set("__peersetBridge", bridge) // loaded without the shim
	}
	select {} // serve calls until the page goes away
}

func argOrUndefined(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}
