package moderation

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
)

// ErrLinkRefused is wrapped by every LinkPolicy.Check error.
var ErrLinkRefused = errors.New("link refused")

// LinkPolicy is what the link-policy rule demands of a record's link.
type LinkPolicy struct {
	// AllowHosts, when not empty, are the only hosts links may point at; a
	// host also allows its subdomains ("example.com" allows
	// "www.example.com", not "badexample.com"). A leading "*." is ignored.
	AllowHosts []string
	// RequireAllowList refuses every link while AllowHosts is empty.
	RequireAllowList bool
	// MaxBytes bounds the link's length (0: DefaultMaxLinkBytes).
	MaxBytes int
}

// Check returns nil if link is an absolute https URL with a valid host, no
// user info ("https://allowed.com@evil.com/" really goes to evil.com), no
// white space, control characters or backslashes, at most MaxBytes long,
// and on an allowed host. Errors wrap ErrLinkRefused.
func (p LinkPolicy) Check(link string) error {
	maxBytes := p.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxLinkBytes
	}
	if len(link) > maxBytes {
		return fmt.Errorf("%w: it is %d bytes, over the limit of %d", ErrLinkRefused, len(link), maxBytes)
	}
	for _, r := range link {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: it contains white space or a control character", ErrLinkRefused)
		}
		if r == '\\' {
			return fmt.Errorf("%w: it contains a backslash", ErrLinkRefused)
		}
	}
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("%w: not a URL: %v", ErrLinkRefused, err)
	}
	if u.Scheme != "https" {
		if u.Scheme == "" {
			return fmt.Errorf("%w: %q is not an absolute https URL", ErrLinkRefused, clip(link, 80))
		}
		return fmt.Errorf("%w: scheme %q is not https", ErrLinkRefused, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: %q has no host", ErrLinkRefused, clip(link, 80))
	}
	if u.User != nil {
		return fmt.Errorf("%w: user info before the host hides where the link goes", ErrLinkRefused)
	}
	host, ok := normalizeHost(u.Hostname())
	if !ok {
		return fmt.Errorf("%w: host %q is not a valid host name", ErrLinkRefused, clip(u.Hostname(), 80))
	}
	if len(p.AllowHosts) == 0 {
		if p.RequireAllowList {
			return fmt.Errorf("%w: links are not allowed until allowed hosts are configured", ErrLinkRefused)
		}
		return nil
	}
	for _, allowed := range p.AllowHosts {
		a, ok := normalizeHost(strings.TrimPrefix(strings.TrimSpace(allowed), "*."))
		if ok && (host == a || strings.HasSuffix(host, "."+a)) {
			return nil
		}
	}
	return fmt.Errorf("%w: host %q is not on the allow-list", ErrLinkRefused, clip(host, 80))
}

func (p LinkPolicy) validate() error {
	for _, h := range p.AllowHosts {
		if _, ok := normalizeHost(strings.TrimPrefix(strings.TrimSpace(h), "*.")); !ok {
			return fmt.Errorf("allowed host %q is not a host name (write \"example.com\", without scheme or path)", h)
		}
	}
	return nil
}

// normalizeHost lowercases a host name and drops one trailing dot, and
// reports whether it is an IP address or a name of valid labels (letters,
// digits, inner hyphens).
func normalizeHost(h string) (string, bool) {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return h, true
	}
	for l := range strings.SplitSeq(h, ".") {
		if !validLabel(l) {
			return "", false
		}
		for _, r := range l {
			if !(r == '-' || r < 0x80 && (isASCIILetter(byte(r)) || isDigit(byte(r))) || r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
				return "", false
			}
		}
	}
	return h, true
}
