//go:build unix

package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
)

// FixOwnership gives files that root created in a directory owned by
// someone else (typically /var/lib/radmfa owned by freerad) to the
// directory's owner, so an admin command run as root never leaves a
// database, WAL or key file that FreeRADIUS's radmfa exec cannot write.
func FixOwnership(files ...string) {
	if os.Geteuid() != 0 {
		return
	}
	for _, f := range files {
		dir, err := os.Stat(filepath.Dir(f))
		if err != nil {
			continue
		}
		ds, ok := dir.Sys().(*syscall.Stat_t)
		if !ok || ds.Uid == 0 {
			continue
		}
		fi, err := os.Lstat(f)
		if err != nil {
			continue
		}
		if fs, ok := fi.Sys().(*syscall.Stat_t); ok && fs.Uid == 0 && fi.Mode().IsRegular() {
			_ = os.Lchown(f, int(ds.Uid), int(ds.Gid))
		}
	}
}
