//go:build !js

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the attacker process: the benchmark
// re-executes its own binary with -attacker first.
func TestMain(m *testing.M) {
	if isAttackerInvocation(os.Args[1:]) {
		os.Exit(attackerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the baseline and the forged-refusals attack with 200
// records: both rows converge, and the attacker is struck and banned.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("WebRTC on loopback and a second process: not in -short")
	}
	o := benchOptions{Records: 200, Attacks: []string{attackForged}, Linger: 300 * time.Millisecond, MaxRow: 15 * time.Second, Sybils: 2}
	rows, err := runBench(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	var table bytes.Buffer
	printTable(&table, o, rows)
	t.Log("\n" + table.String())
	for _, r := range rows {
		if !r.Converged || r.Expected != 300 || r.Held != [2]int{300, 300} || !r.SameAtEnd {
			t.Errorf("%s: converged %v, %d expected, held %v, same set %v: %s", label(r.Attack), r.Converged, r.Expected, r.Held, r.SameAtEnd, r.Note)
		}
		if r.BytesOut == 0 || r.PeakHeap == 0 {
			t.Errorf("%s: %d bytes sent, peak heap %d: nothing measured", label(r.Attack), r.BytesOut, r.PeakHeap)
		}
	}
	atk := rows[1]
	if atk.AtkAuth == 0 || atk.BytesToAtk == 0 {
		t.Errorf("the attacker never authenticated with an honest peer: %+v", atk)
	}
	if atk.Strikes == 0 || atk.Bans == 0 {
		t.Errorf("the forging attacker earned %d strikes and %d bans", atk.Strikes, atk.Bans)
	}
	if !strings.Contains(table.String(), "| forged refusals (H2) |") {
		t.Errorf("no row for the attack in the table")
	}
}
