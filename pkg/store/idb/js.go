//go:build js && wasm

package idb

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// The small typed layer over the IndexedDB API. IndexedDB is asynchronous:
// a request or transaction reports through DOM events. Each event handler
// here is a js.Func that only reads a few values and sends on a buffered
// channel without blocking (Go under js/wasm deadlocks if a JS callback
// blocks); the Go side waits on the channel together with its context.

// Errors of this package, besides the store package's.
var (
	// ErrQuotaExceeded is returned (wrapped) when the browser refuses a
	// write because the site's storage quota is used up.
	ErrQuotaExceeded = errors.New("browser storage quota exceeded")
	// ErrSchema is returned (wrapped) by Open for a database written by a
	// newer, incompatible version of this package.
	ErrSchema = errors.New("unsupported IndexedDB schema version")
	// ErrUnavailable is returned (wrapped) by Open where IndexedDB does
	// not exist (Node.js, a worker without it, some private modes).
	ErrUnavailable = errors.New("IndexedDB is not available here")
	// ErrBlocked is returned (wrapped) when opening or deleting a database
	// waits on another connection (usually another tab) that does not
	// close, until the context ends.
	ErrBlocked = errors.New("database is held open by another tab")
)

// DOMError is a browser exception (a DOMException) that maps to no sentinel.
type DOMError struct {
	Name    string // e.g. "DataError", "UnknownError"
	Message string
}

func (e *DOMError) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// domError turns a DOMException (or any object with name and message) into a
// Go error: a quota error wraps ErrQuotaExceeded and says what to do, a
// version error wraps ErrSchema, anything else is a *DOMError.
func domError(v js.Value) error {
	if v.IsNull() || v.IsUndefined() {
		return &DOMError{Name: "UnknownError", Message: "the browser gave no error"}
	}
	if v.Type() != js.TypeObject {
		return &DOMError{Name: "Error", Message: v.String()}
	}
	name, message := stringProperty(v, "name"), stringProperty(v, "message")
	switch name {
	case "QuotaExceededError":
		return fmt.Errorf("%w (%s): free space on the device, delete old records (a shorter retention), "+
			"or let the site store persistently; the browser refused this write", ErrQuotaExceeded, message)
	case "VersionError":
		return fmt.Errorf("%w (%s): the database was written by a newer version of peerset; "+
			"update the page, or delete the site's data to start over", ErrSchema, message)
	}
	return &DOMError{Name: name, Message: message}
}

func stringProperty(v js.Value, name string) string {
	p := v.Get(name)
	if p.Type() != js.TypeString {
		return ""
	}
	return p.String()
}

// try runs fn, turning a JS exception thrown inside it (syscall/js panics
// with a js.Error) into an error.
func try(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			jsErr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = domError(jsErr.Value)
		}
	}()
	fn()
	return nil
}

// handlers holds the js.Funcs attached to one request or transaction, so
// they can be released together once its last event has fired.
type handlers []js.Func

// on sets target["on"+event] to a handler that runs fn. A JS exception or a
// panic inside fn must not escape into the browser's event loop: it would
// kill the Go program, so it is reported through report (if not nil).
func (h *handlers) on(target js.Value, event string, fn func(ev js.Value), report func(error)) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		var ev js.Value
		if len(args) > 0 {
			ev = args[0]
		}
		if err := try(func() { fn(ev) }); err != nil && report != nil {
			report(err)
		}
		return nil
	})
	*h = append(*h, f)
	target.Set("on"+event, f)
}

func (h *handlers) release() {
	for _, f := range *h {
		f.Release()
	}
	*h = nil
}

// signal sends without blocking on a channel with room for one value.
func signal[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// txn is one IndexedDB transaction and the channel its outcome arrives on:
// nil after "complete", the error after "abort".
type txn struct {
	tx       js.Value
	outcome  chan error
	handlers handlers
	// completed, when set, runs in the complete event before the outcome is
	// signalled (so before the waiting goroutine goes on).
	completed func()
}

var errAborted = errors.New("transaction aborted")

// newTxn starts a transaction over stores in mode ("readonly" or
// "readwrite"). With ignoreConstraint, a request failing with
// ConstraintError (an add of a key already stored) is ignored instead of
// aborting the transaction.
func newTxn(db js.Value, mode string, options js.Value, ignoreConstraint bool, stores ...string) (*txn, error) {
	names := make([]any, len(stores))
	for i, s := range stores {
		names[i] = s
	}
	t := &txn{outcome: make(chan error, 1)}
	err := try(func() {
		if options.IsUndefined() {
			t.tx = db.Call("transaction", names, mode)
		} else {
			t.tx = db.Call("transaction", names, mode, options)
		}
	})
	if err != nil {
		return nil, err
	}
	fail := func(err error) { signal(t.outcome, err) }
	t.handlers.on(t.tx, "complete", func(js.Value) {
		if t.completed != nil {
			t.completed()
		}
		signal(t.outcome, nil)
	}, fail)
	t.handlers.on(t.tx, "abort", func(js.Value) {
		txErr := t.tx.Get("error")
		if txErr.IsNull() || txErr.IsUndefined() {
			signal(t.outcome, errAborted)
			return
		}
		signal(t.outcome, domError(txErr))
	}, fail)
	if ignoreConstraint {
		t.handlers.on(t.tx, "error", func(ev js.Value) {
			if stringProperty(ev.Get("target").Get("error"), "name") == "ConstraintError" {
				ev.Call("preventDefault") // keeps the transaction alive
				ev.Call("stopPropagation")
			}
		}, nil)
	}
	return t, nil
}

func (t *txn) store(name string) js.Value { return t.tx.Call("objectStore", name) }

// commit asks the browser to commit once the requests queued so far are
// done (IDBTransaction.commit), instead of after their results have come
// back to the page and no new request followed: one round trip to the
// browser's storage instead of two. No request may be queued after it.
// Where commit is missing the transaction commits by itself as before.
func (t *txn) commit() {
	_ = try(func() {
		if t.tx.Get("commit").Type() == js.TypeFunction {
			t.tx.Call("commit")
		}
	})
}

// abort aborts the transaction; it is a no-op if it already finished.
func (t *txn) abort() { _ = try(func() { t.tx.Call("abort") }) }

// wait waits for the transaction to finish. If ctx ends first it aborts the
// transaction and waits for that: a transaction that committed anyway
// reports success (its writes are durable and its results readable); one that
// was rolled back reports ctx's error.
func (t *txn) wait(ctx context.Context) error {
	defer t.handlers.release()
	select {
	case err := <-t.outcome:
		return err
	case <-ctx.Done():
		t.abort()
		if err := <-t.outcome; err == nil {
			return nil
		}
		return ctx.Err()
	}
}

// fail aborts the transaction after an error while queueing its requests and
// waits for the abort, so that its handlers can be released.
func (t *txn) fail(err error) error {
	t.abort()
	<-t.outcome
	t.handlers.release()
	return err
}
