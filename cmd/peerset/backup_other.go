//go:build !js

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

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
	if err := parseFlags(fs, args); err != nil {
		return err
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
	return writeJSON(stdout, total)
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
	return out.Flush()
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
