//go:build !js

// Command hostile is a peer for the browser tests that speaks the transport
// and the peerset handshake honestly, then sends forged records: one whose
// signature is broken and one whose content was changed after signing (its
// id no longer matches). A tab that receives them must strike this peer and
// never store or show the forged text.
//
// It is built on a raw swarm.Room, with no session.Manager, like the hostile
// peer of pkg/peerset's tests. It prints one JSON line per event on stdout:
//
//	{"event":"ready","self":ID}              announced to the tracker
//	{"event":"joined","peer":ID}             a transport connection is up
//	{"event":"authenticated","peer":ID}      the peer accepted our auth (it sent its root)
//	{"event":"forged","peer":ID,"ids":[..],"uuids":[..]}  the forged records were sent
//	{"event":"bye","peer":ID,"payload":..}   the peer said goodbye
//	{"event":"left","peer":ID}               the connection closed
//
// With --blob-file PATH it sends no forgeries: its hello offers blobs, and
// it answers a blob-want for that file's SHA-256 with the right hash list
// and chunks with one byte flipped (a peer serving bytes that do not match,
// issue 13), printing {"event":"blob-served","peer":ID,"chunks":N} per
// spoiled chunk.
//
// It runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

// hostile holds the per-peer handshake state.
type hostile struct {
	key        *record.SecretKey
	roomID     string
	forgedText string

	outMu sync.Mutex // serialises stdout lines

	mu     sync.Mutex
	nonces map[string][32]byte // our nonce per peer
	forged map[string]bool     // peers already sent the forgeries

	blob       []byte // --blob-file: the file it serves spoiled
	blobRef    record.BlobRef
	blobHashes []byte
	served     int
}

func run(args []string) error {
	fs := flag.NewFlagSet("hostile", flag.ContinueOnError)
	var trackers stringList
	fs.Var(&trackers, "tracker", "a ws:// tracker URL (repeatable, required)")
	app := fs.String("app", peerset.DefaultAppID, "the appId")
	roomName := fs.String("room", "", "the room name (required)")
	text := fs.String("text", "forged record", "the text of the forged records")
	blobFile := fs.String("blob-file", "", "serve this file's chunks spoiled instead of sending forged records")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *roomName == "" || len(trackers) == 0 {
		return errors.New("--room and --tracker are required")
	}
	key, err := record.GenerateKey()
	if err != nil {
		return fmt.Errorf("generate a key: %w", err)
	}
	h := &hostile{key: key, roomID: record.RoomID(*app, *roomName), forgedText: *text,
		nonces: map[string][32]byte{}, forged: map[string]bool{}}
	if *blobFile != "" {
		if h.blob, err = os.ReadFile(*blobFile); err != nil {
			return fmt.Errorf("read the blob file: %w", err)
		}
		h.blobRef, h.blobHashes = record.HashBlob(h.blob, "")
	}

	room, err := swarm.NewRoom(swarm.Config{
		AppID: *app, Room: *roomName, Trackers: trackers,
		ICEServers:          []webrtc.ICEServer{}, // host candidates only: never a STUN server
		LoopbackCandidates:  true,
		AnnounceSteady:      time.Second,
		TrackerReconnectMin: 100 * time.Millisecond, TrackerReconnectMax: time.Second,
	})
	if err != nil {
		return fmt.Errorf("create the room: %w", err)
	}
	for _, action := range session.Actions {
		if err := room.Handle(action, h.handle); err != nil {
			return fmt.Errorf("handle %s: %w", action, err)
		}
	}
	room.OnPeerJoin(func(p *swarm.Peer) {
		h.emit(map[string]any{"event": "joined", "peer": p.ID()})
		h.hello(p)
	})
	room.OnPeerLeave(func(p *swarm.Peer, reason error) {
		line := map[string]any{"event": "left", "peer": p.ID()}
		if reason != nil {
			line["reason"] = reason.Error()
		}
		h.emit(line)
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := room.Start(ctx); err != nil {
		return fmt.Errorf("join the room: %w", err)
	}
	h.emit(map[string]any{"event": "ready", "self": room.SelfID(), "pubkey": key.Public().Hex()})
	<-ctx.Done()
	return room.Close()
}

func (h *hostile) emit(v map[string]any) {
	b, _ := json.Marshal(v)
	h.outMu.Lock()
	defer h.outMu.Unlock()
	_, _ = os.Stdout.Write(append(b, '\n'))
}

func (h *hostile) send(p *swarm.Peer, action string, payload any) {
	b, ok := payload.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(payload); err != nil {
			panic(err) // our own payloads always marshal
		}
	}
	if err := p.Send(context.Background(), swarm.BinaryMessage(action, b)); err != nil {
		fmt.Fprintf(os.Stderr, "hostile: send %s to %s: %v\n", action, p.ID(), err)
	}
}

// hello opens the handshake with a fresh nonce.
func (h *hostile) hello(p *swarm.Peer) {
	var nonce [32]byte
	_, _ = rand.Read(nonce[:])
	h.mu.Lock()
	h.nonces[p.ID()] = nonce
	h.mu.Unlock()
	h.send(p, session.ActionHello, session.EncodeHello(session.Hello{Version: session.ProtocolVersion, Room: h.roomID,
		PubKey: h.key.Public(), Nonce: nonce, Limits: session.DefaultLimits(), Blobs: h.blob != nil}))
}

// handle answers the handshake honestly and, once the peer has accepted us
// (it sends its root only after verifying our auth), sends the forgeries.
func (h *hostile) handle(p *swarm.Peer, msg swarm.ActionMessage) {
	switch msg.Type {
	case session.ActionHello:
		their, err := session.DecodeHello(msg.Payload)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hostile: bad hello from %s: %v\n", p.ID(), err)
			return
		}
		h.mu.Lock()
		ours, ok := h.nonces[p.ID()]
		h.mu.Unlock()
		if !ok { // their hello came before our join callback ran
			h.hello(p)
			h.mu.Lock()
			ours = h.nonces[p.ID()]
			h.mu.Unlock()
		}
		auth, err := session.SignAuth(h.key, h.roomID, their.Nonce, ours, p.LocalFingerprint(), p.RemoteFingerprint())
		if err != nil {
			fmt.Fprintf(os.Stderr, "hostile: sign the auth for %s: %v\n", p.ID(), err)
			return
		}
		h.send(p, session.ActionAuth, auth)
	case session.ActionRoot:
		h.mu.Lock()
		done := h.forged[p.ID()]
		h.forged[p.ID()] = true
		h.mu.Unlock()
		if done {
			return
		}
		h.emit(map[string]any{"event": "authenticated", "peer": p.ID()})
		if h.blob != nil {
			return
		}
		events, err := h.sendForgeries(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hostile: forge for %s: %v\n", p.ID(), err)
			return
		}
		var ids, uuids []string
		for _, e := range events {
			ids = append(ids, e.IDHex())
			uuids = append(uuids, e.TagValue(record.TagUUID))
		}
		h.emit(map[string]any{"event": "forged", "peer": p.ID(), "ids": ids, "uuids": uuids})
	case session.ActionBlobWant:
		h.serveSpoiled(p, msg.Payload)
	case session.ActionBye:
		h.emit(map[string]any{"event": "bye", "peer": p.ID(), "payload": json.RawMessage(msg.Payload)})
	}
}

// serveSpoiled answers a blob-want: the right hash list, chunks with a
// byte flipped, none for another blob.
func (h *hostile) serveSpoiled(p *swarm.Peer, payload []byte) {
	layout, indexes, err := session.DecodeBlobWant(payload)
	sha := layout.SHA256
	if err != nil || h.blob == nil || sha != h.blobRef.SHA256 || layout.ListHash != h.blobRef.ListHash || layout.Size != h.blobRef.Size || layout.ChunkSize != h.blobRef.ChunkSize {
		h.send(p, session.ActionBlobNone, sha[:])
		return
	}
	data := func(index uint32, b []byte) []byte {
		out := append(append([]byte(nil), sha[:]...), byte(index>>24), byte(index>>16), byte(index>>8), byte(index))
		return append(out, b...)
	}
	if len(indexes) == 0 {
		h.send(p, session.ActionBlobData, data(session.BlobListIndex, h.blobHashes))
		return
	}
	for _, i := range indexes {
		off := int(i) * h.blobRef.ChunkSize
		chunk := append([]byte(nil), h.blob[off:off+h.blobRef.ChunkLen(int(i))]...)
		chunk[len(chunk)/2] ^= 0xff
		h.send(p, session.ActionBlobData, data(i, chunk))
		h.mu.Lock()
		h.served++
		n := h.served
		h.mu.Unlock()
		h.emit(map[string]any{"event": "blob-served", "peer": p.ID(), "chunks": n})
	}
}

// sendForgeries sends two records of this room by our key, each forged
// after signing: one with a flipped signature bit, one with changed text.
func (h *hostile) sendForgeries(p *swarm.Peer) ([]*record.Event, error) {
	badSig, err := record.New(record.Draft{Text: h.forgedText + " (bad signature)"}, h.key, h.roomID, record.Limits{})
	if err != nil {
		return nil, fmt.Errorf("make a record: %w", err)
	}
	badSig.Sig[10] ^= 1

	tampered, err := record.New(record.Draft{Text: "an honest record"}, h.key, h.roomID, record.Limits{})
	if err != nil {
		return nil, fmt.Errorf("make a record: %w", err)
	}
	tampered.Content = h.forgedText + " (tampered content)"

	events := []*record.Event{badSig, tampered}
	h.send(p, session.ActionRecords, map[string]any{"events": events})
	return events, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
