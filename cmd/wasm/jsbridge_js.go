//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"syscall/js"
)

// The typed wrapper around syscall/js: every function the bridge exports
// returns a Promise and runs its work in a goroutine, never inside the
// js.Func callback itself (which would freeze the page and deadlock on
// anything that waits for the event loop, such as IndexedDB or WebRTC).

var (
	jsPromise = js.Global().Get("Promise")
	jsError   = js.Global().Get("Error")
	jsJSON    = js.Global().Get("JSON")
)

// asyncWork is the body of an exported function: it receives the call's
// arguments and returns a value for the Promise (nil is undefined; a string
// stays a string, JSON text for structured results) or an error, which
// rejects the Promise with a JavaScript Error.
type asyncWork func(args []js.Value) (any, error)

// asyncFunc wraps work as a JavaScript function returning a Promise.
func asyncFunc(work asyncWork) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		args = append([]js.Value(nil), args...)
		var resolve, reject js.Value
		executor := js.FuncOf(func(_ js.Value, fns []js.Value) any {
			resolve, reject = fns[0], fns[1]
			return nil
		})
		promise := jsPromise.New(executor) // calls executor synchronously
		executor.Release()
		go func() {
			defer func() {
				if p := recover(); p != nil {
					reject.Invoke(newJSError(errorInfo{Message: fmt.Sprintf("peerset: internal error: %v (please report it)\n%s", p, debug.Stack()), Code: "internal"}))
				}
			}()
			v, err := work(args)
			if err != nil {
				reject.Invoke(newJSError(describeError(err)))
				return
			}
			resolve.Invoke(v)
		}()
		return promise
	})
}

// syncFunc wraps a function that does not block (no I/O, no locks held for
// long) as a plain JavaScript function.
func syncFunc(fn func(args []js.Value) any) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any { return fn(args) })
}

// newJSError builds an Error with the fields of info (code, rule, reason).
func newJSError(info errorInfo) js.Value {
	e := jsError.New(info.Message)
	if info.Code != "" {
		e.Set("code", info.Code)
	}
	if info.Rule != "" {
		e.Set("rule", info.Rule)
		e.Set("reason", info.Reason)
	}
	return e
}

// stringArg returns args[i] as a string: a string as is, anything else
// (an object) through JSON.stringify; missing or undefined gives "".
func stringArg(args []js.Value, i int) string {
	if i >= len(args) || args[i].IsUndefined() || args[i].IsNull() {
		return ""
	}
	if args[i].Type() == js.TypeString {
		return args[i].String()
	}
	return jsJSON.Call("stringify", args[i]).String()
}

// jsonString marshals v for the Promise: JSON text that the shim parses.
func jsonString(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the result: %w", err)
	}
	return string(b), nil
}

// hasGlobal reports whether the page's global scope defines name.
func hasGlobal(name string) bool {
	v := js.Global().Get(name)
	return !v.IsUndefined() && !v.IsNull()
}
