//go:build !linux && !js

package bolt

// releaseMapped is a no-op where it is not implemented (see release_linux.go).
func (s *Store) releaseMapped() {}
