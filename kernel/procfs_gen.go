package kernel

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

// Contents of the per-process /proc files (procfs.go).

// procMaps is /proc/<pid>/maps.
func (t *Task) procMaps() string {
	var b strings.Builder
	for _, mi := range t.guestMaps() {
		b.WriteString(mi.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// guestMaps is the mapping table with file names as the guest sees them
// (under a sysroot, without the sysroot's prefix).
func (t *Task) guestMaps() []MapInfo {
	if t.Proc.MM == nil {
		return nil
	}
	maps := t.Proc.MM.Maps()
	if r := t.root(); r != nil {
		for i := range maps {
			if strings.HasPrefix(maps[i].Name, "/") {
				if g, ok := r.GuestPath(maps[i].Name); ok {
					maps[i].Name = g
				}
			}
		}
	}
	return maps
}

// procSmaps is /proc/<pid>/smaps (or smaps_rollup): per mapping the
// header line of maps and the counters Linux prints. Residency is not
// tracked per mapping: Rss and the counters derived from it are the
// mapping's size for private writable memory and 0 otherwise.
func (t *Task) procSmaps(rollup bool) string {
	var b strings.Builder
	var total [4]uint64 // size, rss, private dirty, anonymous
	maps := t.guestMaps()
	for _, mi := range maps {
		size := uint64(mi.End-mi.Start) >> 10
		var rss, privDirty, anon uint64
		if mi.Prot&2 != 0 && !mi.Shared { // hvf.ProtWrite
			rss, privDirty = size, size
			if mi.Fd < 0 {
				anon = size
			}
		}
		total[0] += size
		total[1] += rss
		total[2] += privDirty
		total[3] += anon
		if rollup {
			continue
		}
		b.WriteString(mi.String())
		b.WriteByte('\n')
		writeSmapsCounters(&b, size, rss, privDirty, anon)
		fmt.Fprintf(&b, "THPeligible:    0\nVmFlags: %s\n", vmFlags(mi))
	}
	if rollup {
		lo, hi := uint64(0), uint64(0)
		if len(maps) > 0 {
			lo, hi = uint64(maps[0].Start), uint64(maps[len(maps)-1].End)
		}
		fmt.Fprintf(&b, "%08x-%08x ---p 00000000 00:00 0%s[rollup]\n", lo, hi, strings.Repeat(" ", 27))
		writeSmapsCounters(&b, total[0], total[1], total[2], total[3])
	}
	return b.String()
}

// writeSmapsCounters writes the kB counters of one smaps record.
func writeSmapsCounters(b *strings.Builder, size, rss, privDirty, anon uint64) {
	kb := func(name string, v uint64) { fmt.Fprintf(b, "%-16s%8d kB\n", name+":", v) }
	kb("Size", size)
	kb("KernelPageSize", 4)
	kb("MMUPageSize", 4)
	kb("Rss", rss)
	kb("Pss", rss)
	kb("Pss_Dirty", privDirty)
	kb("Shared_Clean", 0)
	kb("Shared_Dirty", 0)
	kb("Private_Clean", rss-privDirty)
	kb("Private_Dirty", privDirty)
	kb("Referenced", rss)
	kb("Anonymous", anon)
	kb("KSM", 0)
	kb("LazyFree", 0)
	kb("AnonHugePages", 0)
	kb("ShmemPmdMapped", 0)
	kb("FilePmdMapped", 0)
	kb("Shared_Hugetlb", 0)
	kb("Private_Hugetlb", 0)
	kb("Swap", 0)
	kb("SwapPss", 0)
	kb("Locked", 0)
}

// vmFlags is smaps' VmFlags line for mi.
func vmFlags(mi MapInfo) string {
	var f []string
	if mi.Prot&1 != 0 {
		f = append(f, "rd")
	}
	if mi.Prot&2 != 0 {
		f = append(f, "wr")
	}
	if mi.Prot&4 != 0 {
		f = append(f, "ex")
	}
	f = append(f, "mr", "mw", "me")
	if mi.Shared {
		f = append(f, "sh")
	}
	if mi.DontFork {
		f = append(f, "dc")
	}
	if mi.WipeOnFork {
		f = append(f, "wf")
	}
	return strings.Join(f, " ")
}

// procUsage returns VmSize and VmRSS in bytes.
func (t *Task) procUsage() Usage {
	if t.Proc.MM == nil {
		return Usage{}
	}
	return t.Proc.MM.Usage()
}

// sigMasks returns the ignored and caught signal sets.
func (t *Task) sigMasks() (ign, cgt uint64, shared abi.SigSet) {
	s := t.Proc.sigHandlers()
	for sig := 1; sig <= 64; sig++ {
		act := s.Action(sig)
		switch act.Handler {
		case 0: // SIG_DFL
		case 1: // SIG_IGN
			ign |= 1 << (sig - 1)
		default:
			cgt |= 1 << (sig - 1)
		}
	}
	s.mu.Lock()
	shared = s.shared.set
	s.mu.Unlock()
	return ign, cgt, shared
}

// procView is what status and stat show that the process itself does not
// hold: its state as the reader sees it and its group and session.
type procView struct {
	state     byte
	pgid, sid int32
	// comm is the name to show, "" for the process's (a thread's
	// task/<tid> files show the thread's own).
	comm string
}

// ownView is the view of the process reading its own files: running, and
// the tree's group and session.
func (t *Task) ownView() procView {
	pgid, sid := t.procGroupIDs()
	return procView{state: 'R', pgid: pgid, sid: sid}
}

// procStatus is /proc/<pid>/status.
func (t *Task) procStatus(v procView) string {
	c := t.Proc.Creds()
	pid := t.guestPid()
	ppid := int32(0)
	if t.Proc.Kernel != nil && t.Proc.Kernel.Host != nil {
		ppid = t.Proc.Kernel.Host.Ppid()
	}
	u := t.procUsage()
	ign, cgt, shared := t.sigMasks()
	fdsize := 64
	for _, e := range t.Proc.FDs.Entries() {
		for int(e.FD) >= fdsize {
			fdsize *= 2
		}
	}
	groups := make([]string, len(c.Groups))
	for i, g := range c.Groups {
		groups[i] = strconv.Itoa(int(g))
	}
	sigq := t.Proc.Rlimit(abi.RLIMIT_SIGPENDING).Cur
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		set.Zero()
		set.Set(0)
	}
	cpuMask, cpuList := cpuSetText(&set)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("Name:\t%s", statusName(v.name(t)))
	w("Umask:\t%04o", currentUmask())
	w("State:\t%s", procStateName(v.state))
	w("Tgid:\t%d", pid)
	w("Ngid:\t0")
	w("Pid:\t%d", pid)
	w("PPid:\t%d", ppid)
	w("TracerPid:\t0")
	w("Uid:\t%d\t%d\t%d\t%d", c.RUID, c.EUID, c.SUID, c.FSUID)
	w("Gid:\t%d\t%d\t%d\t%d", c.RGID, c.EGID, c.SGID, c.FSGID)
	w("FDSize:\t%d", fdsize)
	w("Groups:\t%s ", strings.Join(groups, " ")) // Linux ends the list with a space
	w("NStgid:\t%d", pid)
	w("NSpid:\t%d", pid)
	w("NSpgid:\t%d", v.pgid)
	w("NSsid:\t%d", v.sid)
	w("VmPeak:\t%8d kB", u.Virtual>>10)
	w("VmSize:\t%8d kB", u.Virtual>>10)
	w("VmLck:\t%8d kB", 0)
	w("VmPin:\t%8d kB", 0)
	w("VmHWM:\t%8d kB", u.Resident>>10)
	w("VmRSS:\t%8d kB", u.Resident>>10)
	w("RssAnon:\t%8d kB", u.Resident>>10)
	w("RssFile:\t%8d kB", 0)
	w("RssShmem:\t%8d kB", 0)
	w("VmSwap:\t%8d kB", 0)
	w("Threads:\t%d", len(t.guestTids()))
	w("SigQ:\t0/%d", sigq)
	w("SigPnd:\t%016x", uint64(t.SigState.pending.set))
	w("ShdPnd:\t%016x", uint64(shared))
	w("SigBlk:\t%016x", t.SigMask)
	w("SigIgn:\t%016x", ign)
	w("SigCgt:\t%016x", cgt)
	w("CapInh:\t%016x", c.Caps.Inheritable)
	w("CapPrm:\t%016x", c.Caps.Permitted)
	w("CapEff:\t%016x", c.Caps.Effective)
	w("CapBnd:\t%016x", c.Caps.Bounding)
	w("CapAmb:\t%016x", c.Caps.Ambient)
	w("NoNewPrivs:\t%d", boolInt(t.Proc.State().NoNewPrivs))
	w("Seccomp:\t0") // no guest installs a filter (seccomp(2) is ENOSYS)
	w("Seccomp_filters:\t0")
	w("Cpus_allowed:\t%s", cpuMask)
	w("Cpus_allowed_list:\t%s", cpuList)
	w("Mems_allowed_list:\t0")
	w("voluntary_ctxt_switches:\t0")
	w("nonvoluntary_ctxt_switches:\t0")
	return b.String()
}

// boolInt is 1 for true.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hostStatFields returns the fields of the guestproc's host
// /proc/self/stat after the command (field 3 onwards), for the times.
func hostStatFields() []string {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Fields(s)
}

// procStat is /proc/<pid>/stat.
func (t *Task) procStat(v procView) string {
	pid := t.guestPid()
	ppid := int32(0)
	if t.Proc.Kernel != nil && t.Proc.Kernel.Host != nil {
		ppid = t.Proc.Kernel.Host.Ppid()
	}
	u := t.procUsage()
	ign, cgt, _ := t.sigMasks()
	host := hostStatFields()
	field := func(n int) string { // n: Linux's 1-based field number
		if i := n - 3; i >= 0 && i < len(host) {
			return host[i]
		}
		return "0"
	}
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	ticks := func(tv unix.Timeval) int64 { return tv.Sec*100 + int64(tv.Usec)/10000 }
	pending := uint64(t.SigState.pending.set)
	nice := t.leaderNice()
	return fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 4194304 0 0 0 0 %d %d 0 0 %d %d %d 0 %s %d %d %s "+
		"0 0 0 0 0 %d %d %d %d 0 0 0 17 %s 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		pid, v.name(t), v.state, ppid, v.pgid, v.sid, ticks(ru.Utime), ticks(ru.Stime), 20+nice, nice, len(t.guestTids()),
		field(22), u.Virtual, u.Resident/4096, field(25), pending, t.SigMask, ign, cgt, field(39))
}

// leaderNice is the nice value of t's process: that of the host thread
// running its first thread's vCPU, where setpriority puts it
// (sys_sys.go). 0 when it cannot be told.
func (t *Task) leaderNice() int {
	lt := t
	if !t.leader() {
		lt = t.Proc.taskByTid(t.Proc.pid())
	}
	if lt == nil || lt.hostTid.Load() == 0 {
		return 0
	}
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, int(lt.hostTid.Load()))
	if err != nil {
		return 0
	}
	return 20 - prio // the raw syscall's 20 - nice
}

// procGroupIDs returns the process's group and session ids, as getpgid
// and getsid give them: the tree's record in one question when the Host
// has one.
func (t *Task) procGroupIDs() (pgid, sid int32) {
	if t.Proc.Kernel == nil || t.Proc.Kernel.Host == nil {
		return t.guestPid(), t.guestPid()
	}
	if h, ok := t.procTreeHost(); ok {
		if rec, err := h.ProcRecord(t.guestPid()); err == nil && rec != nil {
			return rec.Pgid, rec.Sid
		}
	}
	if sh, ok := t.Proc.Kernel.Host.(sessionHost); ok {
		pgid, err1 := sh.Getpgid(0)
		sid, err2 := sh.Getsid(0)
		if err1 == nil && err2 == nil {
			return pgid, sid
		}
	}
	return t.Proc.groupIDs()
}

// procStatm is /proc/<pid>/statm (pages).
func (t *Task) procStatm() string {
	u := t.procUsage()
	return fmt.Sprintf("%d %d 0 0 0 %d 0\n", u.Virtual/4096, u.Resident/4096, u.Resident/4096)
}

// procLimitNames are /proc/<pid>/limits' rows, indexed by RLIMIT_*.
var procLimitNames = [...]struct{ name, unit string }{
	{"Max cpu time", "seconds"}, {"Max file size", "bytes"}, {"Max data size", "bytes"},
	{"Max stack size", "bytes"}, {"Max core file size", "bytes"}, {"Max resident set", "bytes"},
	{"Max processes", "processes"}, {"Max open files", "files"}, {"Max locked memory", "bytes"},
	{"Max address space", "bytes"}, {"Max file locks", "locks"}, {"Max pending signals", "signals"},
	{"Max msgqueue size", "bytes"}, {"Max nice priority", ""}, {"Max realtime priority", ""},
	{"Max realtime timeout", "us"},
}

// procLimits is /proc/<pid>/limits.
func (t *Task) procLimits() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	val := func(v uint64) string {
		if v == ^uint64(0) {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	for i, l := range procLimitNames {
		r := t.Proc.Rlimit(i)
		fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", l.name, val(r.Cur), val(r.Max), l.unit)
	}
	return b.String()
}

// procMounts is /proc/<pid>/mounts (or mountinfo): the host's without a
// sysroot, else the root, the binds and the synthetic file systems.
func (t *Task) procMounts(info bool) ([]byte, error) {
	r := t.root()
	if r == nil {
		name := "/proc/self/mounts"
		if info {
			name = "/proc/self/mountinfo"
		}
		return hostFile(name)(t)
	}
	type m struct{ src, dir, fstype, opts string }
	ms := []m{{"elfuse", "/", "rootfs", "rw"}}
	for _, mt := range r.mounts.mounts {
		opts := "rw"
		if mt.ro {
			opts = "ro"
		}
		ms = append(ms, m{mt.host, mt.guest, "none", opts + ",bind"})
	}
	ms = append(ms, m{"proc", "/proc", "proc", "rw,nosuid,nodev,noexec,relatime"},
		m{"devtmpfs", "/dev", "devtmpfs", "rw,nosuid"},
		m{"devpts", "/dev/pts", "devpts", "rw,nosuid,noexec"},
		m{"tmpfs", "/dev/shm", "tmpfs", "rw,nosuid,nodev"})
	var b strings.Builder
	for i, x := range ms {
		if info {
			parent := 1
			if i == 0 {
				parent = 0
			}
			fmt.Fprintf(&b, "%d %d 0:%d / %s %s shared:%d - %s %s %s\n",
				i+1, parent, i+1, x.dir, x.opts, i+1, x.fstype, x.src, x.opts)
			continue
		}
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", x.src, x.dir, x.fstype, x.opts)
	}
	return []byte(b.String()), nil
}

// cpuSetText renders a CPU set as status shows it: a hex mask and a list
// of ranges ("0-1,4", "3").
func cpuSetText(set *unix.CPUSet) (mask, list string) {
	n := len(set) * 64
	var words []uint64
	for i := range set {
		words = append(words, uint64(set[i]))
	}
	for len(words) > 1 && words[len(words)-1] == 0 {
		words = words[:len(words)-1]
	}
	var m strings.Builder
	for i := len(words) - 1; i >= 0; i-- {
		if i == len(words)-1 {
			fmt.Fprintf(&m, "%x", words[i])
		} else {
			fmt.Fprintf(&m, "%016x", words[i])
		}
	}
	var parts []string
	for c := 0; c < n; c++ {
		if !set.IsSet(c) {
			continue
		}
		e := c
		for e+1 < n && set.IsSet(e+1) {
			e++
		}
		if e == c {
			parts = append(parts, strconv.Itoa(c))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c, e))
		}
		c = e
	}
	return m.String(), strings.Join(parts, ",")
}
