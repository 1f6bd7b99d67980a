// Command testreport prints what `go test -json` wrote (stdin) as go test
// would without -v, plus what a plain run cannot tell when a test binary
// is killed: the tests that were still running. make test-wasm uses it,
// because under js/wasm a test that spins never yields to the test alarm,
// so go test kills the binary after its timeout without a stack, and a
// plain run prints no test name. It exits 1 when a package or test failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// keptLines bounds the output kept per test and per package.
const keptLines = 200

type testState struct {
	output []string
	done   bool
	failed bool
}

type pkgState struct {
	tests  map[string]*testState
	order  []string // tests in the order they started
	output []string // the package's own output (build errors, timeouts, ok/FAIL)
}

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report reads go test -json from r and writes the summary to w. It
// reports whether anything failed.
func report(r io.Reader, w io.Writer) (failed bool, err error) {
	pkgs := map[string]*pkgState{}
	get := func(name string) *pkgState {
		p := pkgs[name]
		if p == nil {
			p = &pkgState{tests: map[string]*testState{}}
			pkgs[name] = p
		}
		return p
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(w, "%s\n", line) // not test2json: say it as it came
			continue
		}
		if e.Action == "build-output" || e.Action == "build-fail" {
			if e.Output != "" {
				fmt.Fprint(w, e.Output)
			}
			if e.Action == "build-fail" {
				failed = true
			}
			continue
		}
		p := get(e.Package)
		if e.Test != "" {
			t := p.tests[e.Test]
			if t == nil {
				t = &testState{}
				p.tests[e.Test] = t
				p.order = append(p.order, e.Test)
			}
			switch e.Action {
			case "output":
				t.output = keep(t.output, e.Output)
			case "pass", "skip":
				t.done = true
			case "fail":
				t.done, t.failed = true, true
			}
			continue
		}
		switch e.Action {
		case "output":
			p.output = keep(p.output, e.Output)
		case "pass", "skip":
			printPackageEnd(w, e, p)
			delete(pkgs, e.Package)
		case "fail":
			failed = true
			printFailure(w, e, p)
			delete(pkgs, e.Package)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	// Packages that never ended: the stream was cut.
	names := make([]string, 0, len(pkgs))
	for name := range pkgs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		failed = true
		printFailure(w, event{Action: "fail", Package: name}, pkgs[name])
		fmt.Fprintf(w, "testreport: the output of %s ended before the package did\n", name)
	}
	return failed, nil
}

func keep(lines []string, s string) []string {
	lines = append(lines, s)
	if len(lines) > keptLines {
		lines = slices.Delete(lines, 0, len(lines)-keptLines)
	}
	return lines
}

// printPackageEnd prints a passing package's summary line.
func printPackageEnd(w io.Writer, e event, p *pkgState) {
	for _, o := range p.output {
		if len(o) >= 3 && (o[:3] == "ok " || o[:3] == "?  ") {
			fmt.Fprint(w, o)
			return
		}
	}
	fmt.Fprintf(w, "ok  \t%s\t%s\n", e.Package, elapsed(e.Elapsed))
}

// printFailure prints a failed package: its failed tests' output, the
// tests still running when it ended, and its own output.
func printFailure(w io.Writer, e event, p *pkgState) {
	var running []string
	for _, name := range p.order {
		t := p.tests[name]
		switch {
		case t.failed:
			fmt.Fprint(w, join(t.output))
		case !t.done:
			running = append(running, name)
		}
	}
	for _, name := range running {
		fmt.Fprintf(w, "--- still running when %s ended: %s; its output so far:\n%s", e.Package, name, join(p.tests[name].output))
	}
	var summary []string // the package's FAIL line, said last
	for _, o := range p.output {
		if strings.HasPrefix(o, "FAIL\t") {
			summary = append(summary, o)
		} else {
			fmt.Fprint(w, o)
		}
	}
	if len(running) > 0 {
		fmt.Fprintf(w, "testreport: %s ended with %d test(s) still running: %v\n", e.Package, len(running), running)
	}
	if len(summary) == 0 {
		summary = append(summary, fmt.Sprintf("FAIL\t%s\t%s\n", e.Package, elapsed(e.Elapsed)))
	}
	fmt.Fprint(w, join(summary))
}

func join(lines []string) string {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	b := make([]byte, 0, n)
	for _, l := range lines {
		b = append(b, l...)
	}
	return string(b)
}

func elapsed(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
