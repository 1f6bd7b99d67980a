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

	"github.com/peersetdb/peerset/pkg/tracker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracker:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. It writes the ws:// URL as one line to
// stdout once it listens, and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	defaults := tracker.DefaultConfig()
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address (host:port)")
	interval := fs.Duration("interval", defaults.Interval, "announce interval told to clients")
	maxMessage := fs.Int64("max-message-bytes", defaults.MaxMessageBytes, "largest client message")
	maxOffers := fs.Int("max-offers", defaults.MaxOffersPerAnnounce, "most offers in one announce")
	maxSwarms := fs.Int("max-swarms-per-conn", defaults.MaxSwarmsPerConn, "most info_hashes one connection may join")
	maxPeers := fs.Int("max-peers-per-swarm", defaults.MaxPeersPerSwarm, "most peers in one info_hash (members idle for --idle-timeout make room first)")
	maxConns := fs.Int("max-conns", defaults.MaxConns, "most open WebSockets; more get HTTP 503")
	maxConnsPerIP := fs.Int("max-conns-per-ip", defaults.MaxConnsPerIP, "most open WebSockets from one address (IPv6: one /64); more get HTTP 429; -1: no cap (for use behind a reverse proxy, where every client has the proxy's address)")
	rate := fs.Float64("announce-rate", defaults.AnnounceRate, "messages per second one connection may send on average; more are dropped with a failure reason")
	burst := fs.Int("announce-burst", defaults.AnnounceBurst, "messages one connection may send at once")
	idle := fs.Duration("idle-timeout", defaults.MemberIdleTimeout, "drop a swarm membership that no announce refreshed for this long, and close a connection that sent nothing for this long")
	queueBytes := fs.Int("send-queue-bytes", defaults.SendQueueBytes, "bytes waiting for one connection before it is cut off as too slow")
	static := fs.String("static", "", "also serve the files under this directory (GET requests that are not WebSocket upgrades), e.g. a demo page; never dot-files, directory listings, symbolic links out of it or databases (bbolt files, *.db)")
	verbose := fs.Bool("v", false, "log every connection and request (debug level)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := tracker.Config{
		Interval:             *interval,
		MaxMessageBytes:      *maxMessage,
		MaxOffersPerAnnounce: *maxOffers,
		MaxSwarmsPerConn:     *maxSwarms,
		MaxPeersPerSwarm:     *maxPeers,
		MaxConns:             *maxConns,
		MaxConnsPerIP:        *maxConnsPerIP,
		AnnounceRate:         *rate,
		AnnounceBurst:        *burst,
		MemberIdleTimeout:    *idle,
		SendQueueBytes:       *queueBytes,
		Logger:               logger,
	}
	if *maxConnsPerIP == 0 || *maxConnsPerIP < -1 {
		return fmt.Errorf("--max-conns-per-ip %d: give a positive cap, or -1 for none", *maxConnsPerIP)
	}
	positive := []struct {
		flag string
		ok   bool
	}{
		{"interval", *interval > 0},
		{"max-message-bytes", *maxMessage > 0},
		{"max-offers", *maxOffers > 0},
		{"max-swarms-per-conn", *maxSwarms > 0},
		{"max-peers-per-swarm", *maxPeers > 0},
		{"max-conns", *maxConns > 0},
		{"announce-rate", *rate > 0},
		{"announce-burst", *burst > 0},
		{"idle-timeout", *idle > 0},
		{"send-queue-bytes", *queueBytes > 0},
	}
	for _, p := range positive {
		if !p.ok {
			return fmt.Errorf("--%s must be positive: %s", p.flag, fs.Lookup(p.flag).Value)
		}
	}
	if *static != "" {
		if info, err := os.Stat(*static); err != nil || !info.IsDir() {
			return fmt.Errorf("--static %s is not a directory: give the directory to serve (e.g. the repository root)", *static)
		}
		h, err := tracker.StaticFiles(*static)
		if err != nil {
			return fmt.Errorf("--static: %w", err)
		}
		cfg.Static = h
	}
	srv := tracker.New(cfg)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", *addr, err)
	}
	httpServer := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}

	// Print the URL on stdout so scripts can read it; logs go to stderr.
	if _, err := fmt.Fprintf(stdout, "ws://%s\n", ln.Addr()); err != nil {
		_ = ln.Close()
		return fmt.Errorf("failed to print the URL: %w", err)
	}
	logger.Info("tracker listening", "url", "ws://"+ln.Addr().String(), "stats", "http://"+ln.Addr().String()+"/stats", "interval", *interval)
	if *static != "" {
		logger.Info("serving files", "dir", *static, "url", "http://"+ln.Addr().String()+"/")
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()

	select {
	case err := <-serveErr:
		srv.Close()
		return fmt.Errorf("failed to serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = httpServer.Shutdown(shutdownCtx) // stops accepting; WebSockets are hijacked
	srv.Close()                            // so close them here
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("failed to shut down: %w", err)
	}
	logger.Info("stopped")
	return nil
}
