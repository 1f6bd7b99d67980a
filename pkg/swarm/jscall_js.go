//go:build js && wasm

package swarm

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// The js/wasm transport reaches the browser through syscall/js only: data
// channels and peer connections through the shim's WebRTC host
// (peerconnection_js.go, datachannel_js.go), tracker connections through
// the WebSocket of the scope it runs in (websocket_js.go). This file holds
// what they share: calling JavaScript that may throw, and awaiting Promises.

var (
	jsUint8Array = js.Global().Get("Uint8Array")
	jsObject     = js.Global().Get("Object")
)

// jsStringLength is the UTF-16 length of a JavaScript string, read without
// copying it into Go (Value.Length works on objects only: Object(s) is the
// string's wrapper object).
func jsStringLength(s js.Value) int { return jsObject.Invoke(s).Get("length").Int() }

// errJS is wrapped by every error that a JavaScript exception became.
var errJS = errors.New("browser error")

// jsException turns a recovered panic of syscall/js (a thrown JavaScript
// value) into an error; other panics go on.
func jsException(p any) error {
	if e, ok := p.(js.Error); ok {
		return fmt.Errorf("%w: %s", errJS, jsErrorText(e.Value))
	}
	if v, ok := p.(js.Value); ok {
		return fmt.Errorf("%w: %s", errJS, jsErrorText(v))
	}
	panic(p)
}

// jsErrorText is the text of a thrown value or rejection reason: "Name:
// message" for an Error, String(v) for anything else.
func jsErrorText(v js.Value) string {
	if v.Type() == js.TypeObject {
		if msg := v.Get("message"); msg.Type() == js.TypeString {
			if name := v.Get("name"); name.Type() == js.TypeString && name.String() != "Error" {
				return name.String() + ": " + msg.String()
			}
			return msg.String()
		}
	}
	return js.Global().Call("String", v).String()
}

// jsCall calls v[method](args...) and returns a thrown exception as an
// error instead of a panic.
func jsCall(v js.Value, method string, args ...any) (res js.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = jsException(p)
		}
	}()
	return v.Call(method, args...), nil
}

// jsNew is new ctor(args...) with exceptions returned as errors.
func jsNew(ctor js.Value, args ...any) (res js.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = jsException(p)
		}
	}()
	return ctor.New(args...), nil
}

// await waits for a Promise to settle, or for ctx to end. A rejection
// becomes an error wrapping errJS.
func await(ctx context.Context, promise js.Value) (js.Value, error) {
	type outcome struct {
		v   js.Value
		err error
	}
	done := make(chan outcome, 1)
	onResolve := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		done <- outcome{v: v}
		return nil
	})
	onReject := js.FuncOf(func(_ js.Value, args []js.Value) any {
		reason := js.Undefined()
		if len(args) > 0 {
			reason = args[0]
		}
		done <- outcome{err: fmt.Errorf("%w: %s", errJS, jsErrorText(reason))}
		return nil
	})
	if _, err := jsCall(promise, "then", onResolve, onReject); err != nil {
		onResolve.Release()
		onReject.Release()
		return js.Undefined(), err
	}
	select {
	case o := <-done:
		onResolve.Release()
		onReject.Release()
		return o.v, o.err
	case <-ctx.Done():
		// The Promise may still settle: release the callbacks then, not
		// now (a released function must never be called).
		go func() {
			<-done
			onResolve.Release()
			onReject.Release()
		}()
		return js.Undefined(), ctx.Err()
	}
}

// bytesToJS copies b into a new Uint8Array.
func bytesToJS(b []byte) js.Value {
	u := jsUint8Array.New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

// bytesFromJS copies a Uint8Array (or ArrayBuffer) into Go.
func bytesFromJS(v js.Value) []byte {
	if !v.InstanceOf(jsUint8Array) {
		v = jsUint8Array.New(v)
	}
	b := make([]byte, v.Get("byteLength").Int())
	js.CopyBytesToGo(b, v)
	return b
}
