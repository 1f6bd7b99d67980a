// Package idb is peerset's browser store: a store.Store on IndexedDB through
// syscall/js. Outside js/wasm the package is empty.
package idb
