//go:build linux

package bolt

import (
	"syscall"

	"go.etcd.io/bbolt"
)

// releaseMapped drops the file's pages from this process's resident set
// (madvise MADV_DONTNEED on bbolt's read-only shared mapping): they stay in
// the page cache, and a later read maps back only what it touches. A full
// scan (Summaries, Items, Scan) touches the whole time index, and with it,
// through the kernel's fault-around, most of the file; without this the
// file would count in the process's RSS for as long as it runs. It runs in a
// read transaction, during which bbolt cannot remap the file.
func (s *Store) releaseMapped() {
	_ = s.db.View(func(tx *bbolt.Tx) error {
		info := tx.DB().Info()
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, info.Data, uintptr(tx.Size()), syscall.MADV_DONTNEED)
		if errno != 0 {
			return errno
		}
		return nil
	})
}
