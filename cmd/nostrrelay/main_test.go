//go:build !js

package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/nostrsignal"
)

func TestRunServesTwoPeersAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0"}, pw, io.Discard) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "ws://127.0.0.1:") {
		t.Fatalf("printed %q", url)
	}
	got := make(chan nostrsignal.Signal, 16)
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBB"} {
		c, err := nostrsignal.New(nostrsignal.Config{Relays: []string{url}, AppID: "a", Room: "r", PeerID: id,
			OnSignal: func(s nostrsignal.Signal) {
				select {
				case got <- s:
				default:
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		c.Start(ctx)
		defer c.Close()
	}
	select {
	case s := <-got:
		if s.Kind != nostrsignal.Announce {
			t.Fatalf("first signal %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no announcement through the relay")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--rate", "0"}, {"--max-conns", "-1"}, {"extra"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%v) accepted", args)
		}
	}
}
