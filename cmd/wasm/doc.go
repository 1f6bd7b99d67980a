// Command wasm is peerset's browser build: compiled with GOOS=js GOARCH=wasm
// into peerset.wasm, it exposes the peerset.DB facade to the JavaScript shim
// in js/ (js/peerset.js), which is the API pages use.
//
// The boundary is small on purpose. On start the program hands the shim one
// bridge object (through globalThis.__peersetBridgeReady) with generateKey and
// open; open returns a handle whose methods (put, get, delete, query, stats,
// close, listen, import, exportPage and the test hooks _importEvents and
// _exportEvents) each return a Promise and do their work in a goroutine of
// their own, so no js.Func callback ever blocks the page. db.import() and
// db.export() cross in bounded pieces: import takes one chunk of JSON lines
// per call, exportPage returns one page after a cursor (backup.go). Values cross the boundary as JSON
// text: one string per call, parsed once by JSON.parse on the JavaScript side,
// which is far cheaper than building objects field by field through
// syscall/js. Events (record changes, peer sessions, sync progress, refused
// records) flow back through one emit(type, json) callback, records and
// refusals in batches (refusals at most one batch per 100 ms, bounded by the
// facade: see peerset.DB.OnReject and rejects.go).
//
// Build it with scripts/build-wasm.sh, which puts everything a page needs in
// js/dist/. Natively the command only says how to build it.
package main
