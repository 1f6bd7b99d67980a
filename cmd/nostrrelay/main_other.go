//go:build !js

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/peersetdb/peerset/pkg/nostrrelay"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nostrrelay:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. It writes the ws:// URL as one line to
// stdout once it listens, and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nostrrelay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7000", "listen address (host:port)")
	var cfg nostrrelay.Config
	fs.IntVar(&cfg.MaxConnections, "max-conns", 1024, "most open WebSockets; more get HTTP 503")
	fs.IntVar(&cfg.MaxMessageBytes, "max-message-bytes", 128<<10, "largest client message; a longer one closes the connection")
	fs.IntVar(&cfg.MaxEventBytes, "max-event-bytes", 64<<10, "largest event JSON")
	fs.IntVar(&cfg.MaxSubscriptions, "max-subs-per-conn", 32, "most subscriptions one connection may hold")
	fs.Float64Var(&cfg.RatePerSecond, "rate", 20, "messages per second one connection may send on average")
	fs.IntVar(&cfg.Burst, "burst", 60, "messages one connection may send at once")
	fs.IntVar(&cfg.MaxStoredEvents, "max-stored-events", 10000, "most stored (non-ephemeral) events; the oldest go first")
	fs.IntVar(&cfg.MaxStoredBytes, "max-stored-bytes", 32<<20, "most bytes of stored events")
	fs.IntVar(&cfg.MaxLimit, "max-limit", 500, "most stored events one REQ returns")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 5*time.Minute, "close a connection that sent nothing for this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, p := range []struct {
		flag string
		ok   bool
	}{
		{"max-conns", cfg.MaxConnections > 0}, {"max-message-bytes", cfg.MaxMessageBytes > 0},
		{"max-event-bytes", cfg.MaxEventBytes > 0}, {"max-subs-per-conn", cfg.MaxSubscriptions > 0},
		{"rate", cfg.RatePerSecond > 0}, {"burst", cfg.Burst > 0}, {"max-stored-events", cfg.MaxStoredEvents > 0},
		{"max-stored-bytes", cfg.MaxStoredBytes > 0}, {"max-limit", cfg.MaxLimit > 0}, {"idle-timeout", cfg.IdleTimeout > 0},
	} {
		if !p.ok {
			return fmt.Errorf("--%s must be positive: %s", p.flag, fs.Lookup(p.flag).Value)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	relay := nostrrelay.New(cfg)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", *addr, err)
	}
	httpServer := &http.Server{Handler: relay, ReadHeaderTimeout: 10 * time.Second}
	if _, err := fmt.Fprintf(stdout, "ws://%s\n", ln.Addr()); err != nil {
		_ = ln.Close()
		return fmt.Errorf("failed to print the URL: %w", err)
	}
	logger.Info("relay listening", "url", "ws://"+ln.Addr().String())

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	select {
	case err := <-serveErr:
		relay.Close()
		return fmt.Errorf("failed to serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = httpServer.Shutdown(shutdownCtx) // stops accepting; WebSockets are hijacked
	relay.Close()                          // so close them here
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("failed to shut down: %w", err)
	}
	return nil
}
