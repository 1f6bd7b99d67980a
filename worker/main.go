//go:build js && wasm

package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"

	"github.com/peersetdb/peerset/pkg/tracker"
)

// objectStats reads /stats from the Durable Objects through their binding.
type objectStats struct{ binding string }

func (o objectStats) ObjectStats(ctx context.Context, name string) (tracker.Stats, error) {
	ns, err := cloudflare.NewDurableObjectNamespace(o.binding)
	if err != nil {
		return tracker.Stats{}, fmt.Errorf("no Durable Object binding %s (wrangler.jsonc durable_objects): %w", o.binding, err)
	}
	stub, err := ns.Get(ns.IdFromName(name))
	if err != nil {
		return tracker.Stats{}, fmt.Errorf("failed to get the stub: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://tracker.internal/stats", nil)
	if err != nil {
		return tracker.Stats{}, err
	}
	res, err := stub.Fetch(req)
	if err != nil {
		return tracker.Stats{}, fmt.Errorf("failed to fetch: %w", err)
	}
	return decodeStats(res)
}

func main() {
	rules, err := LoadRules()
	if err != nil {
		panic(err) // rules.json is embedded: a broken build
	}
	workers.Serve(NewHandler(objectStats{binding: rules.DurableObject.Binding}, []string{rules.DurableObject.Name}))
}
