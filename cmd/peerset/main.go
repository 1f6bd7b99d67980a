// Command peerset is the native peerset tool: key generation and decoding,
// making and verifying signed records, database files with their records and
// blobs. Every command prints JSON (or, for "record verify", the word ok; for
// "blob", the blob's bytes) to stdout and errors to stderr.
//
//	peerset keygen
//	peerset key decode <npub|nsec>
//	peerset record new --nsec N --room R --text T [--app A] [--link U] [--lat X --lon Y] [--uuid U]
//	peerset record verify [--room R] [--app A] < event.json
//	peerset put --db PATH --room R --text T [--nsec N] [--link U] [--lat X --lon Y] [--uuid U] [--file PATH [--type T]]
//	peerset blob --db PATH [--room R] SHA256 > file
//	peerset join --db PATH --room R [--tracker URL]... [--relay URL]... [--nsec N] [--password P] [--ephemeral] [--json] [--ice-loopback] [--max-peers N] [--mesh-high N]
//	peerset version (or --version)
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/peersetdb/peerset/pkg/peerset"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  peerset keygen                          new key pair as {"npub","nsec","pubkey"}
  peerset key decode <npub|nsec>          the key as hex
  peerset record new --nsec N --room R [--app A] [--text T] [--link URL] [--lat X --lon Y] [--uuid U]
                                          a signed record event on one line
  peerset record verify [--room R] [--app A] < event.json
                                          "ok" and exit 0, or what is wrong and exit 1
  peerset put --db PATH --room R [--app A] [--nsec N] [--text T] [--link URL] [--lat X --lon Y] [--uuid U]
              [--file PATH [--type MEDIATYPE]] [MODERATION]
                                          add a record to a database file, offline; with --file, the
                                          file too, as a blob the record refers to (--text is its
                                          caption; --type defaults from the extension), and a second
                                          line {"sha256","size","type"}
  peerset blob --db PATH [--room R] [--app A] SHA256 > file
                                          the bytes of a blob the file holds whole: put there by
                                          put --file, or fetched by join (blobs of up to 256 KiB,
                                          or --prefetch-below BYTES, when their records arrive)
  peerset join --db PATH --room R [--app A] [--tracker URL]... [--relay URL]... [--nsec N] [--password P] [--ephemeral] [--json]
               [--ice-loopback] [--ingest-burst N] [--ingest-rate R] [--max-peers N] [--mesh-high N|-1]
               [--upload-rate BYTES] [--prefetch-below BYTES] [MODERATION]
                                          an always-on peer until Ctrl-C; it serves the files (blobs)
                                          it holds and fetches those at or under --prefetch-below;
                                          --json prints {"peers","records","root","blobs"} every second
                                          plus event lines;
                                          a seeder serving many peers raises --max-peers and sets
                                          --mesh-high -1 (no mesh bound below --max-peers)
  peerset import --db PATH --room R [--app A] [--nsec N] [--blobs DIR] [MODERATION] < events.jsonl
                                          verify, moderate and store NIP-01 events (one per line) as a
                                          peer's; prints {"stored","refused","invalid","byRule"} last;
                                          --blobs DIR (from export --blobs) then stores each file as the
                                          blob a record refers to, and the line gains "blobs": {…}
  peerset export --db PATH [--room R] [--app A] [--blobs DIR] > events.jsonl
                                          every live record and kept deletion, one event per line;
                                          --blobs DIR also writes each blob held whole, named by SHA-256
  peerset version                         the release this binary was built from (also --version),
                                          the same as the npm package's version
  MODERATION: [--moderation open|standard|strict] [--quota N] [--deletion-quota N] [--pow BITS]
              [--bad-words FILE] [--allow-link-host HOST]...
`

// errUsage marks errors that should print the usage text.
var errUsage = errors.New("usage")

// run executes one command and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) >= 1 && args[0] == "keygen":
		err = cmdKeygen(args[1:], stdout)
	case len(args) >= 2 && args[0] == "key" && args[1] == "decode":
		err = cmdKeyDecode(args[2:], stdout)
	case len(args) >= 2 && args[0] == "record" && args[1] == "new":
		err = cmdRecordNew(args[2:], stdout)
	case len(args) >= 2 && args[0] == "record" && args[1] == "verify":
		err = cmdRecordVerify(args[2:], stdin, stdout)
	case len(args) >= 1 && args[0] == "put":
		err = cmdPut(args[1:], stdout)
	case len(args) >= 1 && args[0] == "blob":
		err = cmdBlob(args[1:], stdout)
	case len(args) >= 1 && args[0] == "join":
		err = cmdJoin(args[1:], stdout, stderr)
	case len(args) >= 1 && args[0] == "import":
		err = cmdImport(args[1:], stdin, stdout)
	case len(args) >= 1 && args[0] == "export":
		err = cmdExport(args[1:], stdout)
	case len(args) >= 1 && (args[0] == "version" || args[0] == "--version"):
		if len(args) > 1 {
			err = fmt.Errorf("%w: %s takes no arguments (got %q)", errUsage, args[0], args[1:])
			break
		}
		fmt.Fprintln(stdout, peerset.Version())
		return 0
	case len(args) >= 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args)
	}
	if err == nil {
		return 0
	}
	// The one place the CLI names itself: errors below carry no prefix.
	fmt.Fprintln(stderr, "peerset:", err)
	if errors.Is(err, errUsage) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	return 1
}
