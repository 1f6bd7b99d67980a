//go:build js && wasm

package main

import (
	"context"
	"errors"
	"syscall/js"
	"time"

	"github.com/peersetdb/peerset/pkg/peerset"
)

// The page's callbacks: custom rules' checks and a NIP-07 signer live on
// the page, so the engine asks the page through page.call(op, arg,
// timeoutMs) → Promise<string> (engine.js relays it to peerset.js, which
// bounds it by timeoutMs too). See pagerules.go.

// attachPage gives cfg the page's custom rules and signer, when the
// options ask for them.
func attachPage(ctx context.Context, cfg *peerset.Config, o openOptions, page js.Value) error {
	if len(o.Moderation.Rules) == 0 && !o.Signer {
		return nil
	}
	if page.Type() != js.TypeObject || page.Get("call").Type() != js.TypeFunction {
		return errors.New("custom rules and signers need peerset.js's open(): the engine got no page to call")
	}
	call := func(ctx context.Context, op, arg string, timeout time.Duration) (string, error) {
		v, err := awaitPromise(ctx, page.Call("call", op, arg, timeout.Milliseconds()))
		if err != nil {
			return "", err
		}
		if v.Type() != js.TypeString {
			return "", errors.New("the page answered with no value")
		}
		return v.String(), nil
	}
	if n := len(o.Moderation.Rules); n > 0 {
		j := newPageJudge(ctx, call, o.Moderation.Rules, millis(o.Moderation.RuleTimeout))
		cfg.Rules = append(cfg.Rules, j.rules()...)
	}
	if o.Signer {
		cfg.Signer = pageSigner{call: call}
	}
	return nil
}

// awaitPromise waits for p to settle, or for ctx. The callbacks are
// released once p settles (the page's side always settles its promises:
// it bounds every call by a timeout).
func awaitPromise(ctx context.Context, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	var then, catch js.Func
	then = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: argOrUndefined(args, 0)}
		return nil
	})
	catch = js.FuncOf(func(_ js.Value, args []js.Value) any {
		reason := argOrUndefined(args, 0)
		msg := "the page's call failed"
		if reason.Type() == js.TypeObject && reason.Get("message").Type() == js.TypeString {
			msg = reason.Get("message").String()
		} else if reason.Type() == js.TypeString {
			msg = reason.String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	release := func() { then.Release(); catch.Release() }
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		release()
		return js.Undefined(), errors.New("the page's call returned no promise")
	}
	p.Call("then", then, catch)
	select {
	case r := <-ch:
		release()
		return r.v, r.err
	case <-ctx.Done():
		go func() { <-ch; release() }()
		return js.Undefined(), ctx.Err()
	}
}
