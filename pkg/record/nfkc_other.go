//go:build !js

package record

import "golang.org/x/text/unicode/norm"

// nfkc returns s in Unicode normalization form KC (NIP-49 normalizes the
// password so).
func nfkc(s string) string { return norm.NFKC.String(s) }
