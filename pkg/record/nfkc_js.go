//go:build js

package record

import "syscall/js"

// nfkc returns s in Unicode normalization form KC (NIP-49 normalizes the
// password so), with the JavaScript engine's String.prototype.normalize:
// golang.org/x/text's tables would add about 30 KB to the browser build.
func nfkc(s string) string {
	return jsNormalize.Call("call", s, "NFKC").String()
}

var jsNormalize = js.Global().Get("String").Get("prototype").Get("normalize")
