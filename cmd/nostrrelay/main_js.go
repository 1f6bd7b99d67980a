//go:build js

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "nostrrelay: a WebSocket server cannot run under js/wasm; build it natively")
	os.Exit(1)
}
