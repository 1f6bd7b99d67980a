// Package moderation decides whether a record event may be stored in a
// peerset room. It runs a pipeline of named rules (integrity, schema,
// timestamp window, bad words, links, author quota, duplicates, NIP-13
// proof of work, and custom rules) configured by presets from "open" to
// "strict", keeps a ledger of strikes and bans against peers and keys, and
// selects records for garbage collection once they are past retention.
//
// It is pure Go with no knowledge of storage or networking: the caller
// answers the pipeline's questions about what is stored through the Index
// interface (MemoryIndex is a ready in-memory implementation).
package moderation
