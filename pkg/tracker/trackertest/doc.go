// Package trackertest runs pkg/tracker on a loopback port for tests, with
// the stop and restart (on the same port) that fault tests need. It is
// native only: a js/wasm build has no listener.
package trackertest
