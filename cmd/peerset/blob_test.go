//go:build !js

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
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

// TestExportImportBlobs: export --blobs writes each blob held whole beside
// the events, import --blobs stores them again for the imported records,
// so that a restored file serves its blobs without any peer; files that do
// not belong (no record, wrong name, damaged bytes) are counted, not
// stored, and the events' counts are unchanged.
func TestExportImportBlobs(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from.db"), filepath.Join(dir, "to.db")
	blobs := filepath.Join(dir, "blobs")
	var shas []string
	var files [][]byte
	for i, size := range []int{70 << 10, 3 << 10, 5 << 10} {
		data := randomBytes(size, uint64(10+i))
		path := writeFile(t, filepath.Join(dir, fmt.Sprintf("file%d.bin", i)), data)
		code, out, errOut := runCLI("", "put", "--db", from, "--room", "files", "--nsec", exampleNsec, "--file", path)
		if code != 0 {
			t.Fatalf("put --file: exit %d, %q", code, errOut)
		}
		var line struct{ SHA256 string }
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil {
			t.Fatal(err)
		}
		shas = append(shas, line.SHA256)
		files = append(files, data)
	}
	code, events, errOut := runCLI("", "export", "--db", from, "--blobs", blobs)
	if code != 0 || strings.Count(events, "\n") != 3 {
		t.Fatalf("export --blobs: exit %d, %q, %q", code, events, errOut)
	}
	for i, sha := range shas {
		got, err := os.ReadFile(filepath.Join(blobs, sha))
		if err != nil || !bytes.Equal(got, files[i]) {
			t.Fatalf("blob %d in the export directory: %v (same bytes: %v)", i, err, bytes.Equal(got, files[i]))
		}
	}
	// Files that do not belong: bytes no record refers to, a file not named
	// by a SHA-256, one damaged in place (the third blob's), the same
	// damaged bytes under their own hash, a link, and a directory.
	stray := []byte("no record refers to me")
	straySum := sha256.Sum256(stray)
	writeFile(t, filepath.Join(blobs, hex.EncodeToString(straySum[:])), stray)
	writeFile(t, filepath.Join(blobs, "notes.txt"), []byte("hello"))
	damaged := append([]byte(nil), files[2]...)
	damaged[0] ^= 1
	writeFile(t, filepath.Join(blobs, shas[2]), damaged)
	sum := sha256.Sum256(damaged)
	writeFile(t, filepath.Join(blobs, hex.EncodeToString(sum[:])), damaged)
	if err := os.Symlink(filepath.Join(blobs, shas[0]), filepath.Join(blobs, strings.Repeat("cd", 32))); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(blobs, strings.Repeat("ef", 32)), 0o700); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(events, "import", "--db", to, "--room", "files", "--blobs", blobs)
	if code != 0 {
		t.Fatalf("import --blobs: exit %d, %q", code, errOut)
	}
	var got struct {
		peerset.ImportResult
		Blobs struct {
			Stored, Refused, Invalid int
			ByRule                   map[string]int
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("import printed %q: %v", out, err)
	}
	if got.Stored != 3 || got.Invalid != 0 || got.Refused != 0 {
		t.Fatalf("the events' counts: %+v", got.ImportResult)
	}
	want := map[string]int{"no-record": 2, "name": 1, "damaged": 1, "not-a-file": 1}
	if b := got.Blobs; b.Stored != 2 || b.Refused != 0 || b.Invalid != 5 || !maps.Equal(b.ByRule, want) {
		t.Fatalf("the blobs' counts: %+v, want 2 stored, 5 invalid %v (out %q)", b, want, out)
	}
	for i, sha := range shas {
		code, back, errOut := runCLI("", "blob", "--db", to, sha)
		if held := code == 0 && back == string(files[i]); held != (i < 2) {
			t.Fatalf("blob %d from the restored file: exit %d, %d bytes, %q; want it held: %v", i, code, len(back), errOut, i < 2)
		}
	}
	if _, err := os.Stat(filepath.Join(blobs, shas[0]+".tmp")); !os.IsNotExist(err) {
		t.Errorf("export left a temporary file: %v", err)
	}
	// Without --blobs the last line has no "blobs"; a missing directory is
	// a usage error.
	if _, out, _ := runCLI(events, "import", "--db", filepath.Join(dir, "plain.db"), "--room", "files"); strings.Contains(out, "blobs") {
		t.Fatalf("import without --blobs printed %q", out)
	}
	if code, _, errOut := runCLI(events, "import", "--db", filepath.Join(dir, "x.db"), "--room", "files", "--blobs", filepath.Join(dir, "none")); code == 0 || !strings.Contains(errOut, "--blobs") {
		t.Fatalf("import --blobs of a missing directory: exit %d, %q", code, errOut)
	}
}
