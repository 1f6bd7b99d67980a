package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// Blobs across the boundary: putFile(draftJSON, bytes, type) stores a file
// and puts the record that refers to it; blob(uuid) resolves to { bytes,
// type } (the shim makes a Blob of it); 'blob' events report progress.

var jsUint8Array = js.Global().Get("Uint8Array")

func (h *handle) putFile(args []js.Value) (any, error) {
	draft, err := parseDraftFor(stringArg(args, 0), true)
	if err != nil {
		return nil, invalidInput(err)
	}
	if len(args) < 2 || !args[1].InstanceOf(jsUint8Array) {
		return nil, invalidInput(errors.New("put({ file }) needs a Blob, File, ArrayBuffer or Uint8Array"))
	}
	n := args[1].Get("byteLength").Int()
	if n > h.db.MaxBlobBytes() { // refused before a copy of it is made
		return nil, &moderation.Rejection{Rule: peerset.RuleBlobSize, Reason: fmt.Sprintf("the file has %d bytes, over the largest blob, %d", n, h.db.MaxBlobBytes())}
	}
	data := make([]byte, n)
	js.CopyBytesToGo(data, args[1])
	r, err := h.db.PutBlob(h.ctx, draft, bytes.NewReader(data), stringArg(args, 2))
	if err != nil {
		return nil, err
	}
	return string(appendRecordJSON(nil, r)), nil
}

func (h *handle) blob(args []js.Value) (any, error) {
	uuid := stringArg(args, 0)
	if err := record.CheckUUID(uuid); err != nil {
		return nil, invalidInput(fmt.Errorf("blob() needs the uuid of a record that has a file: %w", err))
	}
	data, r, err := h.db.Blob(h.ctx, uuid)
	if errors.Is(err, peerset.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := jsUint8Array.New(len(data))
	js.CopyBytesToJS(out, data)
	obj := js.Global().Get("Object").New()
	obj.Set("bytes", out)
	obj.Set("type", r.Blob.Type)
	return obj, nil
}

// blobEventJSON is the payload of a 'blob' event.
type blobEventJSON struct {
	SHA256   string `json:"sha256"`
	Received int64  `json:"received"`
	Size     int64  `json:"size"`
	Done     bool   `json:"done"`
	Error    string `json:"error,omitempty"`
	Rule     string `json:"rule,omitempty"`
}

func (h *handle) onBlob(p peerset.BlobProgress) {
	if !h.isListening(eventBlob) {
		return
	}
	ev := blobEventJSON{SHA256: p.SHA256, Received: p.Received, Size: p.Size, Done: p.Done}
	if p.Err != nil {
		info := describeError(p.Err)
		ev.Error, ev.Rule = info.Message, info.Rule
	}
	b, err := json.Marshal([]blobEventJSON{ev})
	if err == nil {
		h.send(eventBlob, b)
	}
}
