package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The testdata are real `go test -json` runs of a small module under
// js/wasm: a passing package, one with a failing subtest, and one whose
// test spins until go test kills the binary (ran too long, no stack).
func TestReport(t *testing.T) {
	tests := []struct {
		file       string
		wantFailed bool
		want       []string // lines that must appear, in this order
		absent     []string
	}{
		{
			file:   "pass.jsonl",
			want:   []string{"ok  \ttrdemo/ok\t"},
			absent: []string{"=== RUN", "fine", "FAIL"},
		},
		{
			file:       "wasm-run.jsonl",
			wantFailed: true,
			want: []string{
				"    bad_test.go:8: want 1, got 2",
				"FAIL\ttrdemo/bad\t",
				"ok  \ttrdemo/ok\t",
				"--- still running when trdemo/spin ended: TestSpins",
				"    spin_test.go:8: about to spin",
				"*** Test killed with quit: ran too long",
				"testreport: trdemo/spin ended with 1 test(s) still running: [TestSpins]",
				"FAIL\ttrdemo/spin\t",
			},
			absent: []string{"TestFirst", "=== RUN   TestFine"},
		},
		{
			file:       "cut.jsonl",
			wantFailed: true,
			want: []string{
				"--- still running when trdemo/spin ended: TestSpins",
				"testreport: the output of trdemo/spin ended before the package did",
			},
		},
		{
			file:       "build-fail.jsonl",
			wantFailed: true,
			want:       []string{"broken/x.go:3:9: syntax error", "FAIL\ttrdemo/broken [build failed]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			failed, err := report(bytes.NewReader(in), &out)
			if err != nil {
				t.Fatal(err)
			}
			if failed != tt.wantFailed {
				t.Errorf("failed = %v, want %v", failed, tt.wantFailed)
			}
			got := out.String()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("missing (or out of order) %q in:\n%s", w, got)
				}
				at += i + len(w)
			}
			for _, a := range tt.absent {
				if strings.Contains(got, a) {
					t.Errorf("%q should not be printed:\n%s", a, got)
				}
			}
		})
	}
}
