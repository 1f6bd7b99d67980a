//go:build !js

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPutFileThenBlob: put --file stores a file as a blob and prints the
// record and then {"sha256","size","type"}; blob writes the very bytes back,
// whichever way its hash is spelt and its flags placed. The type comes from
// --type, else the extension, without parameters.
func TestPutFileThenBlob(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(200<<10, 1)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	tests := []struct {
		name     string
		file     string
		extra    []string
		wantType string
		blobArgs func(db string) []string
	}{
		{"a png by its extension", "photo.png", nil, "image/png", func(db string) []string { return []string{"--db", db, want} }},
		{"text, without the charset", "notes.txt", nil, "text/plain", func(db string) []string { return []string{"--db", db, strings.ToUpper(want)} }},
		{"an unknown extension", "data.peersetzz", nil, record.MediaTypeBinary, func(db string) []string { return []string{want, "--db", db} }},
		{"no extension", "README", nil, record.MediaTypeBinary, func(db string) []string { return []string{"--db", db, "--room", "files", want} }},
		{"--type wins", "photo.png", []string{"--type", "Image/WebP"}, "image/webp", func(db string) []string { return []string{"--db", db, want} }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".db")
			sub := filepath.Join(dir, string(rune('a'+i)))
			if err := os.Mkdir(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			path := writeFile(t, filepath.Join(sub, tt.file), data)
			args := append([]string{"put", "--db", db, "--room", "files", "--nsec", exampleNsec, "--file", path, "--text", "a caption"}, tt.extra...)
			code, out, errOut := runCLI("", args...)
			if code != 0 {
				t.Fatalf("put --file: exit %d, %q", code, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("put --file printed %d lines, want 2: %q", len(lines), out)
			}
			e, err := record.ParseEvent([]byte(lines[0]), 0)
			if err != nil {
				t.Fatal(err)
			}
			r, err := record.Parse(e)
			if err != nil || r.Blob == nil || r.Text != "a caption" || r.Blob.Hex() != want || r.Blob.Size != int64(len(data)) || r.Blob.Type != tt.wantType {
				t.Fatalf("the record %+v refers to %+v (%v); want %s, %d bytes, %s", r, r.Blob, err, want, len(data), tt.wantType)
			}
			var line putBlobLine
			if err := json.Unmarshal([]byte(lines[1]), &line); err != nil || line != (putBlobLine{SHA256: want, Size: int64(len(data)), Type: tt.wantType}) {
				t.Fatalf("second line %q (%v)", lines[1], err)
			}
			code, got, errOut := runCLI("", append([]string{"blob"}, tt.blobArgs(db)...)...)
			if code != 0 || got != string(data) {
				t.Fatalf("blob: exit %d, %d bytes (identical: %v), %q", code, len(got), got == string(data), errOut)
			}
		})
	}
}

// TestPutFileAndBlobErrors: what put --file and blob refuse, with the exit
// code and the words that tell the user what happened.
func TestPutFileAndBlobErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "room.db")
	small := writeFile(t, filepath.Join(dir, "small.bin"), randomBytes(1000, 2))
	if code, _, errOut := runCLI("", "put", "--db", db, "--room", "files", "--nsec", exampleNsec, "--file", small); code != 0 {
		t.Fatalf("put --file: %q", errOut)
	}
	tooBig := writeFile(t, filepath.Join(dir, "big.bin"), make([]byte, peerset.DefaultMaxBlobBytes+1))
	justRight := writeFile(t, filepath.Join(dir, "max.bin"), bytes.Repeat([]byte{1}, peerset.DefaultMaxBlobBytes))
	empty := writeFile(t, filepath.Join(dir, "empty.bin"), nil)
	missing := sha256.Sum256([]byte("never put"))
	put := func(args ...string) []string {
		return append([]string{"put", "--db", db, "--room", "files", "--nsec", exampleNsec}, args...)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"a file over the limit", put("--file", tooBig), 1, []string{`rule "blob-size"`, "16777216"}},
		{"a file at the limit", put("--file", justRight, "--text", "at the limit"), 0, nil},
		{"an empty file", put("--file", empty), 1, []string{"empty"}},
		{"a missing file", put("--file", filepath.Join(dir, "none.bin")), 1, []string{"--file", "no such file"}},
		{"a directory", put("--file", dir), 2, []string{"is a directory"}},
		{"--type without --file", put("--type", "image/png", "--text", "x"), 2, []string{"--type needs --file"}},
		{"--type with parameters", put("--file", small, "--type", "text/plain; charset=utf-8"), 2, []string{"--type", "without parameters"}},
		{"--type that is no media type", put("--file", small, "--type", "png"), 2, []string{"--type", "image/png"}},
		{"a hash the file does not hold", []string{"blob", "--db", db, hex.EncodeToString(missing[:])}, 1, []string{"holds no whole blob " + hex.EncodeToString(missing[:]), "peerset join", "refers to"}},
		{"no hash", []string{"blob", "--db", db}, 2, []string{"SHA-256"}},
		{"a hash too short", []string{"blob", "--db", db, "abcd"}, 2, []string{"64 hex digits"}},
		{"two hashes", []string{"blob", "--db", db, hex.EncodeToString(missing[:]), hex.EncodeToString(missing[:])}, 2, []string{"unexpected argument"}},
		{"no --db", []string{"blob", hex.EncodeToString(missing[:])}, 2, []string{"--db"}},
		{"a database file that is not there", []string{"blob", "--db", filepath.Join(dir, "other.db"), hex.EncodeToString(missing[:])}, 1, []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI("", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not say %q", errOut, w)
				}
			}
			if code != 0 && out != "" {
				t.Errorf("a failure printed %q to stdout", out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "other.db")); !os.IsNotExist(err) {
		t.Errorf("blob created the database file it was asked to read (%v)", err)
	}
}
