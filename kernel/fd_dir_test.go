package kernel

import (
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
)

func TestProcSelfFdListsGuestNumbers(t *testing.T) {
	for _, dirPath := range []string{"/proc/self/fd", "/dev/fd/", "/proc/thread-self/fd"} {
		t.Run(dirPath, func(t *testing.T) {
			task, mem := newFileTestTask(t)
			fd, path := openTemp(t, task, mem, "", abi.O_RDONLY)
			mustSys(t, task, abi.SYS_DUP2, uint64(fd), 300)
			dfd := mustSys(t, task, abi.SYS_OPEN, uint64(mem.str(dirPath)), abi.O_RDONLY|abi.O_DIRECTORY)

			var want []string
			for _, e := range task.Proc.FDs.Entries() {
				want = append(want, strconv.Itoa(int(e.FD)))
			}
			list := func(nr uint64, old bool) []string {
				var got []string
				buf := mem.alloc(64) // room for two short records: several calls
				for {
					n := mustSys(t, task, nr, dfd, uint64(buf), 64)
					if n == 0 {
						break
					}
					for name, typ := range parseDirents(t, mem.bytesAt(buf, int(n)), old) {
						if typ != abi.DT_LNK {
							t.Errorf("%s has type %d, want DT_LNK", name, typ)
						}
						got = append(got, name)
					}
				}
				sort.Slice(got, func(i, j int) bool { a, _ := strconv.Atoi(got[i]); b, _ := strconv.Atoi(got[j]); return a < b })
				return got
			}
			if got := list(abi.SYS_GETDENTS64, false); !slices.Equal(got, want) {
				t.Errorf("getdents64 lists %v, want the guest's %v", got, want)
			}
			mustSys(t, task, abi.SYS_LSEEK, dfd, 0, abi.SEEK_SET)
			if got := list(abi.SYS_GETDENTS, true); !slices.Equal(got, want) {
				t.Errorf("getdents after rewinding lists %v, want %v", got, want)
			}
			mustSys(t, task, abi.SYS_LSEEK, dfd, 0, abi.SEEK_SET)
			wantErrno(t, abi.EINVAL, task, abi.SYS_GETDENTS64, dfd, uint64(mem.alloc(8)), 8)

			// Names inside it are guest numbers.
			buf := mem.alloc(256)
			n := mustSys(t, task, abi.SYS_READLINKAT, dfd, uint64(mem.str("300")), uint64(buf), 256)
			if got := string(mem.bytesAt(buf, int(n))); got != path {
				t.Errorf("readlinkat(fd dir, \"300\") = %q, want %q", got, path)
			}
			st := mem.alloc(abi.SizeofStat)
			mustSys(t, task, abi.SYS_NEWFSTATAT, dfd, uint64(mem.str("300")), uint64(st), 0)
			if mode := mem.u32(st + 24); mode&abi.S_IFMT != abi.S_IFREG {
				t.Errorf("fstatat(fd dir, \"300\") mode %#o, want the regular file", mode)
			}
			wantErrno(t, abi.ENOENT, task, abi.SYS_NEWFSTATAT, dfd, uint64(mem.str("299")), uint64(st), 0)
		})
	}
}
