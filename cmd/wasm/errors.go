package main

import (
	"errors"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// Errors as JavaScript sees them: a message said once with "peerset: ", a
// code for err.code, and the rule of a refusal.

// errorInfo is what the shim needs to build a JavaScript Error: the message,
// and for a moderation refusal the rule and reason; code names errors a
// page may handle.
type errorInfo struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Error codes for JavaScript (err.code).
const (
	codeRejected      = "rejected"
	codeClosed        = "closed"
	codeNotFound      = "not-found"
	codeKeyPassphrase = "key-passphrase"
	codeUnsupported   = "unsupported"
	codeInvalid       = "invalid"
	codeSigner        = "signer"      // the NIP-07 signer refused or failed
	codeReadOnly      = "read-only"   // an ephemeral identity without a key or signer
	codeUnavailable   = "unavailable" // a blob no connected peer holds (yet)
	codeNoBlob        = "no-blob"     // the record has no file
)

// invalidInputError marks arguments a page passed that cannot be used.
type invalidInputError struct{ err error }

func (e *invalidInputError) Error() string { return e.err.Error() }
func (e *invalidInputError) Unwrap() error { return e.err }

func invalidInput(err error) error {
	if err == nil {
		return nil
	}
	return &invalidInputError{err}
}

// unsupportedError marks a browser that lacks something peerset needs.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }

func describeError(err error) errorInfo {
	info := errorInfo{Message: "peerset: " + err.Error()}
	var unsupported *unsupportedError
	var invalid *invalidInputError
	if rej, ok := moderation.AsRejection(err); ok {
		info.Code, info.Rule, info.Reason = codeRejected, rej.Rule, rej.Reason
		info.Message = "peerset: record refused by rule " + rej.Rule + ": " + rej.Reason
		return info
	}
	switch {
	case errors.Is(err, peerset.ErrClosed):
		info.Code = codeClosed
		info.Message = "peerset: this database is closed: open it again with peerset.open()"
	case errors.Is(err, peerset.ErrNotFound):
		info.Code = codeNotFound
	case errors.Is(err, peerset.ErrSigner):
		info.Code = codeSigner
	case errors.Is(err, peerset.ErrReadOnly):
		info.Code = codeReadOnly
		info.Message = "peerset: read-only: this database joined with identity 'ephemeral' and has no key to sign with: open it with an nsec or a signer to write"
	case errors.Is(err, peerset.ErrKeyPassphrase):
		info.Code = codeKeyPassphrase
		info.Message = "peerset: the key stored for this room is encrypted and the passphrase is missing or wrong: pass the one it was saved with, open({ room, passphrase })"
	case errors.Is(err, peerset.ErrBlobUnavailable):
		info.Code = codeUnavailable
		info.Message = "peerset: " + err.Error() + ": no connected peer holds this file yet; try again once peers join"
	case errors.Is(err, peerset.ErrNoBlob):
		info.Code = codeNoBlob
	case errors.As(err, &unsupported):
		info.Code = codeUnsupported
	case errors.As(err, &invalid), errors.Is(err, record.ErrInvalidUUID), errors.Is(err, record.ErrInvalidGeo),
		errors.Is(err, record.ErrRecordTooLarge), errors.Is(err, record.ErrInvalidRecord):
		info.Code = codeInvalid
	}
	return info
}
