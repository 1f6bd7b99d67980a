package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/peersetdb/peerset/pkg/record"
)

// defaultAppID is the appId of the JS API and of every peerset command.
const defaultAppID = "peerset"

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned and printed once by run
	flagSets[name] = fs
	return fs
}

// flagSets holds the last flag set of each command, so that a test can
// check the usage text names every flag.
var flagSets = map[string]*flag.FlagSet{}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func cmdRecordNew(args []string, stdout io.Writer) error {
	fs := newFlagSet("record new")
	nsec := fs.String("nsec", "", "the author's secret key (nsec1...)")
	app := fs.String("app", defaultAppID, "the appId")
	room := fs.String("room", "", "the room name")
	var df draftFlags
	df.register(fs, "the record UUID (v4); a new one if empty, an existing one to update it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *nsec == "" || *room == "" {
		return fmt.Errorf("%w: record new needs --nsec and --room", errUsage)
	}
	sk, err := record.DecodeNsec(*nsec)
	if err != nil {
		return err
	}
	draft, err := df.draft()
	if err != nil {
		return err
	}
	e, err := record.New(draft, sk, record.RoomID(*app, *room), record.Limits{})
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(e.AppendJSON(nil), '\n'))
	return err
}

func cmdRecordVerify(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlagSet("record verify")
	app := fs.String("app", defaultAppID, "the appId")
	room := fs.String("room", "", "the room the record must belong to (any room if empty)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	limits := record.DefaultLimits()
	data, err := io.ReadAll(io.LimitReader(stdin, int64(limits.MaxRecordBytes)+1))
	if err != nil {
		return fmt.Errorf("failed to read the event from stdin: %w", err)
	}
	e, err := record.ParseEvent(trimSpace(data), limits.MaxRecordBytes)
	if err != nil {
		return err
	}
	if *room != "" {
		err = record.CheckRecord(e, record.RoomID(*app, *room), limits)
	} else if err = record.CheckLimits(e, limits); err == nil {
		if err = e.Verify(); err == nil && e.Kind == record.KindRecord {
			_, err = record.Parse(e)
		}
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, "ok")
	return err
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// draftFlags are the record flags of "record new" and "put".
type draftFlags struct{ text, link, lat, lon, uuid *string }

func (f *draftFlags) register(fs *flag.FlagSet, uuidHelp string) {
	f.text = fs.String("text", "", "the record's text")
	f.link = fs.String("link", "", "an optional link (URL)")
	f.lat = fs.String("lat", "", "latitude in decimal degrees (with --lon)")
	f.lon = fs.String("lon", "", "longitude in decimal degrees (with --lat)")
	f.uuid = fs.String("uuid", "", uuidHelp)
}

func (f *draftFlags) draft() (record.Draft, error) {
	d := record.Draft{UUID: *f.uuid, Text: *f.text, Link: *f.link}
	if *f.lat != "" || *f.lon != "" {
		lat, err1 := strconv.ParseFloat(*f.lat, 64)
		lon, err2 := strconv.ParseFloat(*f.lon, 64)
		if err1 != nil || err2 != nil {
			return d, fmt.Errorf("%w: --lat and --lon must both be decimal degrees", errUsage)
		}
		d.Geo = &record.Geo{Lat: lat, Lon: lon}
	}
	return d, nil
}
