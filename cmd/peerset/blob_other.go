//go:build !js

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// blobFlags are the flags of "put --file".
type blobFlags struct{ file, typ string }

func (f *blobFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "file", "", "a file to store as a blob beside the record (--text is then its caption)")
	fs.StringVar(&f.typ, "type", "", "the file's media type (default: from its extension, else "+record.MediaTypeBinary+")")
}

// mediaType returns the blob's media type: --type, else the one the file's
// extension names (without parameters), else application/octet-stream.
func (f *blobFlags) mediaType() (string, error) {
	if f.file == "" {
		if f.typ != "" {
			return "", fmt.Errorf("%w: --type needs --file", errUsage)
		}
		return "", nil
	}
	if f.typ != "" {
		mt, params, err := mime.ParseMediaType(f.typ)
		if err != nil || len(params) != 0 || !strings.Contains(mt, "/") {
			return "", fmt.Errorf("%w: --type %q: want a media type such as image/png, without parameters", errUsage, f.typ)
		}
		return mt, nil
	}
	return typeOfFile(f.file), nil
}

// typeOfFile returns the media type of a file's extension, without
// parameters, or application/octet-stream.
func typeOfFile(path string) string {
	if mt, _, err := mime.ParseMediaType(mime.TypeByExtension(filepath.Ext(path))); err == nil && strings.Contains(mt, "/") {
		return mt
	}
	return record.MediaTypeBinary
}

// putBlobLine is the second line "put --file" prints: the blob, as the
// JavaScript API's record.blob describes it.
type putBlobLine struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
}

// cmdBlob writes the bytes of a blob held whole in a database file to
// stdout. It reads the file only: it fetches nothing.
func cmdBlob(args []string, stdout io.Writer) error {
	fs := newFlagSet("blob")
	var f dbFlags
	f.registerFile(fs)
	sha, err := parseBlobArgs(fs, args)
	if err != nil {
		return err
	}
	if f.path == "" {
		return fmt.Errorf("%w: blob needs --db", errUsage)
	}
	if _, err := os.Stat(f.path); err != nil {
		return fmt.Errorf("failed to read the database file: %w", err)
	}
	ctx := context.Background()
	if f.room == "" {
		// The file says which room it holds.
		app, room, err := storedRoom(ctx, f.path)
		if err != nil {
			return err
		}
		f.app, f.room = app, room
	}
	f.preset = moderation.PresetNameOpen // read what is held, whatever the rules
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	data, err := db.BlobByHash(ctx, sha)
	if errors.Is(err, peerset.ErrNotFound) {
		return fmt.Errorf("%s holds no whole blob %x: a blob gets into the file with `peerset put --file`, "+
			"or is fetched by a peer joined on it (`peerset join --db %s`, once a record that refers to the blob arrives; "+
			"join fetches blobs of up to %d KiB by itself) or by the Go API's DB.Blob", f.path, sha[:], f.path, peerset.DefaultPrefetchBelow>>10)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(data)
	return err
}

// parseBlobArgs parses blob's flags, before or after its one argument, the
// blob's SHA-256 in hex.
func parseBlobArgs(fs *flag.FlagSet, args []string) (sha [32]byte, err error) {
	if err := fs.Parse(args); err != nil {
		return sha, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		return sha, fmt.Errorf("%w: blob needs the blob's SHA-256 (64 hex digits: the sha256 put --file printed, or the record's \"x\" tag)", errUsage)
	}
	arg := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return sha, err
	}
	b, err := hex.DecodeString(strings.ToLower(arg))
	if err != nil || len(b) != 32 {
		return sha, fmt.Errorf("%w: %q is not a SHA-256: want 64 hex digits (the sha256 put --file printed, or the record's \"x\" tag)", errUsage, arg)
	}
	return [32]byte(b), nil
}
