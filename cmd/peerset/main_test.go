package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"runtime"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

const exampleNsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"

func runCLI(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeygen(t *testing.T) {
	code, out, _ := runCLI("", "keygen")
	var kp keyPair
	if code != 0 || json.Unmarshal([]byte(out), &kp) != nil {
		t.Fatalf("keygen: %d %q", code, out)
	}
	sk, err := record.DecodeNsec(kp.Nsec)
	if err != nil || sk.Public().Npub() != kp.Npub || sk.Public().Hex() != kp.PubKey {
		t.Fatalf("keygen printed an inconsistent pair: %+v (%v)", kp, err)
	}
}

func TestKeyDecode(t *testing.T) {
	tests := []struct {
		arg      string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg", 0, `{"type":"npub","hex":"7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"}`, ""},
		{exampleNsec, 0, `{"type":"nsec","hex":"67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"}`, ""},
		{"npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptq", 1, "", "checksum"},
		{"note1xyz", 1, "", "prefix"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI("", "key", "decode", tt.arg)
		if code != tt.wantCode || strings.TrimSpace(out) != tt.wantOut || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("key decode %s = %d %q %q", tt.arg, code, out, errOut)
		}
	}
}

func TestRecordNewVerify(t *testing.T) {
	code, ev, errOut := runCLI("", "record", "new", "--nsec", exampleNsec, "--room", "lobby", "--text", "hi <b>\u2028", "--link", "https://example.org", "--lat", "48.85", "--lon", "2.35")
	if code != 0 || strings.Count(ev, "\n") != 1 {
		t.Fatalf("record new: %d %q %q", code, ev, errOut)
	}
	e, err := record.ParseEvent([]byte(strings.TrimSpace(ev)), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := record.Parse(e)
	if err != nil || r.Text != "hi <b>\u2028" || r.Geo.Lat != 48.85 || r.Link != "https://example.org" {
		t.Fatalf("record: %+v %v", r, err)
	}
	tampered := strings.Replace(ev, "hi <b>", "hi <i>", 1)
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"ok in its room", ev, []string{"--room", "lobby"}, 0, ""},
		{"ok without a room", ev, nil, 0, ""},
		{"another room", ev, []string{"--room", "other"}, 1, "another room"},
		{"another app", ev, []string{"--room", "lobby", "--app", "x"}, 1, "another room"},
		{"tampered text", tampered, nil, 1, "id does not match"},
		{"not JSON", "hello", nil, 1, "malformed event"},
		{"empty input", "", nil, 1, "malformed event"},
		{"stray argument", ev, []string{"extra"}, 2, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.stdin, append([]string{"record", "verify"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
			}
			if code == 0 && out != "ok\n" {
				t.Fatalf("stdout %q, want ok", out)
			}
		})
	}
}

func TestRecordNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no nsec", []string{"--room", "r", "--text", "x"}, 2, "--nsec"},
		{"npub instead of nsec", []string{"--nsec", "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg", "--room", "r"}, 1, "prefix"},
		{"lat without lon", []string{"--nsec", exampleNsec, "--room", "r", "--lat", "1"}, 2, "--lat and --lon"},
		{"latitude out of range", []string{"--nsec", exampleNsec, "--room", "r", "--lat", "100", "--lon", "0"}, 1, "geolocation"},
		{"bad uuid", []string{"--nsec", exampleNsec, "--room", "r", "--uuid", "x"}, 1, "UUID"},
		{"text over the limit", []string{"--nsec", exampleNsec, "--room", "r", "--text", strings.Repeat("x", 70000)}, 1, "MaxRecordBytes"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI("", append([]string{"record", "new"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("code %d, stderr %q", code, errOut)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errOut := runCLI("", "frobnicate"); code != 2 || !strings.Contains(errOut, "usage") {
		t.Fatalf("%d %q", code, errOut)
	}
}

// TestUsageNamesEveryFlag: the usage text lists every flag each command
// accepts, in that command's entry (or in MODERATION, which it names).
func TestUsageNamesEveryFlag(t *testing.T) {
	entries := map[string]string{} // command → its usage lines
	var cur string
	for line := range strings.Lines(usage) {
		if rest, ok := strings.CutPrefix(line, "  peerset "); ok {
			fields := strings.Fields(rest)
			cur = fields[0]
			if len(fields) > 1 && (fields[0] == "record" || fields[0] == "key") {
				cur += " " + fields[1]
			}
		} else if strings.HasPrefix(line, "  MODERATION:") {
			cur = "MODERATION"
		}
		entries[cur] += line
	}
	commands := [][]string{{"record", "new"}, {"record", "verify"}, {"put"}, {"blob"}, {"join"}, {"import"}, {"export"}}
	if runtime.GOOS == "js" {
		// put, blob, join, import and export need a file store: the js build
		// answers errNativeOnly before it parses a flag.
		commands = commands[:2]
	}
	for _, args := range commands {
		name := strings.Join(args, " ")
		runCLI("", append(args, "--help")...)
		fs, ok := flagSets[name]
		if !ok {
			t.Errorf("%s made no flag set", name)
			continue
		}
		entry := entries[name]
		if strings.Contains(entry, "[MODERATION]") {
			entry += entries["MODERATION"]
		}
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(entry, "--"+f.Name+" ") && !strings.Contains(entry, "--"+f.Name+"]") && !strings.Contains(entry, "--"+f.Name+"\n") {
				t.Errorf("the usage of %s does not name --%s", name, f.Name)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	want := peerset.Version() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := runCLI("", args...)
		if code != 0 || out != want || errOut != "" {
			t.Errorf("peerset %s: exit %d, stdout %q, stderr %q; want 0, %q", args[0], code, out, errOut, want)
		}
	}
	if code, _, errOut := runCLI("", "version", "extra"); code != 2 || !strings.Contains(errOut, "takes no arguments") {
		t.Errorf("peerset version extra: exit %d, stderr %q; want 2 and a usage error", code, errOut)
	}
}
