//go:build !js

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

// importBatch is how many events one Import call takes.
const importBatch = 2000

// maxImportLine bounds one line of import input: far above any record a
// room accepts (64 KiB by default), it only guards against unbounded input.
const maxImportLine = 1 << 20

// cmdImport reads NIP-01 events, one per line, verifies, moderates and
// stores them as if a peer had sent them, and prints the counts as its last
// line. Input that is not an event counts as invalid; only unreadable input
// or a failing store is an error.
func cmdImport(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlagSet("import")
	var f dbFlags
	f.register(fs)
	blobDir := fs.String("blobs", "", "a directory of blobs written by export --blobs: each file is stored as the blob that an imported (or held) record refers to")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *blobDir != "" {
		if st, err := os.Stat(*blobDir); err != nil || !st.IsDir() {
			return fmt.Errorf("%w: --blobs %s is not a readable directory", errUsage, *blobDir)
		}
	}
	ctx := context.Background()
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var total peerset.ImportResult
	total.ByRule = map[string]int{}
	// The importer checks a batch's signatures while the one before it is
	// stored: each batch is a new slice, as it keeps the last one.
	imp := db.NewImporter(ctx)
	batch := make([]*record.Event, 0, importBatch)
	flush := func() error {
		err := imp.Add(batch)
		batch = make([]*record.Event, 0, importBatch)
		return err
	}
	in := bufio.NewReaderSize(stdin, 64<<10)
	for {
		line, tooLong, err := readLine(in, maxImportLine)
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("failed to read the events to import: %w", err)
		}
		if tooLong {
			total.NotAnEvent()
			continue
		}
		if len(line) == 0 {
			continue
		}
		e, perr := record.ParseEvent(line, 0)
		if perr != nil {
			total.NotAnEvent()
		} else {
			batch = append(batch, e)
		}
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if err := flush(); err != nil {
		return err
	}
	r, err := imp.Close()
	if err != nil {
		return err
	}
	total.Add(r)
	out := importLine{ImportResult: total}
	if *blobDir != "" {
		b, err := importBlobs(ctx, db, *blobDir)
		if err != nil {
			return err
		}
		out.Blobs = &b
	}
	return writeJSON(stdout, out)
}

// importLine is import's last line: the events' counts and, with --blobs,
// the blobs'.
type importLine struct {
	peerset.ImportResult
	Blobs *blobCounts `json:"blobs,omitempty"`
}

// blobCounts are import --blobs' counts: files stored as blobs, refused by
// a limit, and invalid; byRule says why: a rule (blob-size,
// blob-quota-author, blob-quota-room), or name (not a SHA-256 in hex),
// not-a-file (a directory, link or device), unreadable, damaged (the bytes
// do not hash to the name), no-record (no record held refers to the blob),
// mismatch (no record naming it names its chunks' hash list).
type blobCounts struct {
	Stored  int            `json:"stored"`
	Refused int            `json:"refused"`
	Invalid int            `json:"invalid"`
	ByRule  map[string]int `json:"byRule"`
}

func (c *blobCounts) invalid(why string) { c.Invalid++; c.ByRule[why]++ }

// importBlobs stores each file of dir (named by its SHA-256 in hex, as
// export --blobs writes them) as a blob, one file in memory at a time. Only
// a directory it cannot list, or a failing store, is an error: every file
// is counted.
func importBlobs(ctx context.Context, db *peerset.DB, dir string) (blobCounts, error) {
	c := blobCounts{ByRule: map[string]int{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return c, fmt.Errorf("failed to list the blobs in %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			continue
		case !isBlobName(name):
			c.invalid("name")
			continue
		case !e.Type().IsRegular():
			c.invalid("not-a-file") // never followed: a link may lead anywhere
			continue
		}
		data, why := readBlobFile(filepath.Join(dir, name), db.MaxBlobBytes())
		if why != "" {
			if why == peerset.RuleBlobSize {
				c.Refused++
				c.ByRule[why]++
			} else {
				c.invalid(why)
			}
			continue
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != name {
			c.invalid("damaged")
			continue
		}
		_, err := db.ImportBlob(ctx, data)
		var rej *moderation.Rejection
		switch {
		case err == nil:
			c.Stored++
		case errors.As(err, &rej):
			c.Refused++
			c.ByRule[rej.Rule]++
		case errors.Is(err, peerset.ErrNotFound):
			c.invalid("no-record")
		case errors.Is(err, peerset.ErrBlobMismatch):
			c.invalid("mismatch")
		default:
			return c, err
		}
	}
	return c, nil
}

// readBlobFile reads a regular file of at most max bytes, or says why not:
// peerset.RuleBlobSize, "not-a-file" or "unreadable".
func readBlobFile(path string, max int) ([]byte, string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "unreadable"
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, "unreadable"
	case !st.Mode().IsRegular():
		return nil, "not-a-file"
	case st.Size() > int64(max):
		return nil, peerset.RuleBlobSize
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	switch {
	case err != nil:
		return nil, "unreadable"
	case len(data) > max:
		return nil, peerset.RuleBlobSize // it grew meanwhile
	}
	return data, ""
}

// isBlobName reports whether name is a SHA-256 in lowercase hex.
func isBlobName(name string) bool {
	if len(name) != 64 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}

// readLine reads one line without its end of line, up to max bytes; a
// longer line is skipped whole and reported as tooLong.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		part, isPrefix, err := r.ReadLine()
		if !tooLong {
			if len(line)+len(part) > max {
				tooLong, line = true, nil
			} else {
				line = append(line, part...)
			}
		}
		if err != nil || !isPrefix {
			return line, tooLong, err
		}
	}
}

// cmdExport writes every live record and kept deletion of a database file,
// one NIP-01 event per line, oldest first, streaming from the file.
func cmdExport(args []string, stdout io.Writer) error {
	fs := newFlagSet("export")
	var f dbFlags
	f.registerFile(fs)
	blobDir := fs.String("blobs", "", "also write every blob held whole into this directory (created if missing), one file per blob named by its SHA-256 in hex")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx := context.Background()
	if f.room == "" && f.path != "" {
		// The file says which room it holds.
		app, room, err := storedRoom(ctx, f.path)
		if err != nil {
			return err
		}
		f.app, f.room = app, room
	}
	f.preset = moderation.PresetNameOpen // export what is held, whatever the rules
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	out := bufio.NewWriterSize(stdout, 64<<10)
	line := make([]byte, 0, 1024)
	err = db.ExportEach(ctx, func(e *record.Event) error {
		line = append(e.AppendJSON(line[:0]), '\n')
		_, err := out.Write(line)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to export: %w", err)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if *blobDir != "" {
		return exportBlobs(ctx, db, *blobDir, os.Stderr)
	}
	return nil
}

// exportBlobs writes every blob db holds whole into dir, one at a time
// (each through a temporary file, renamed when complete).
func exportBlobs(ctx context.Context, db *peerset.DB, dir string, stderr io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failed to create the blob directory: %w", err)
	}
	shas, err := db.WholeBlobs(ctx)
	if err != nil {
		return err
	}
	for _, sha := range shas {
		data, err := db.BlobByHash(ctx, sha)
		switch {
		case errors.Is(err, peerset.ErrNotFound):
			continue // deleted with its record meanwhile
		case errors.Is(err, peerset.ErrBlobMismatch):
			// Damaged here: the others are still worth keeping.
			fmt.Fprintf(stderr, "peerset: export: blob %x is damaged in this file: not written\n", sha[:])
			continue
		case err != nil:
			return err
		}
		name := filepath.Join(dir, hex.EncodeToString(sha[:]))
		if err := writeFileAtomic(name, data); err != nil {
			return fmt.Errorf("failed to write a blob: %w", err)
		}
	}
	return nil
}

// writeFileAtomic writes data to name through a temporary file beside it,
// removed if anything fails.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	err := os.WriteFile(tmp, data, 0o644)
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// storedRoom reads the appId and room a database file is bound to.
func storedRoom(ctx context.Context, path string) (app, room string, err error) {
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return "", "", err
	}
	defer st.Close()
	return peerset.StoreRoom(ctx, st)
}
