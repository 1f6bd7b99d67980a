//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "peerset wasm: this is the browser build; build it with GOOS=js GOARCH=wasm (scripts/build-wasm.sh) and load it through js/peerset.js")
	os.Exit(1)
}
