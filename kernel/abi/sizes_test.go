package abi

import (
	"encoding/binary"
	"testing"
)

func TestStructSizesMatchLinux(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int
	}{
		{"struct timespec", Timespec{}, SizeofTimespec},
		{"struct timeval", Timeval{}, 16},
		{"struct timezone", Timezone{}, 8},
		{"struct tms", Tms{}, 32},
		{"struct rlimit64", Rlimit{}, SizeofRlimit},
		{"struct rusage", Rusage{}, SizeofRusage},
		{"struct new_utsname", Utsname{}, SizeofUtsname},
		{"struct sysinfo", Sysinfo{}, SizeofSysinfo},
		{"struct sched_param", SchedParam{}, 4},
	}
	for _, tc := range tests {
		if got := binary.Size(tc.v); got != tc.want {
			t.Errorf("%s: %d bytes, Linux has %d", tc.name, got, tc.want)
		}
	}
}

func TestSysinfoFieldOffsets(t *testing.T) {
	b, err := binary.Append(nil, binary.LittleEndian, &Sysinfo{Procs: 0x1234, Totalhigh: 0x55, MemUnit: 0x66})
	if err != nil {
		t.Fatal(err)
	}
	// offsetof(procs) 80, totalhigh 88, mem_unit 104.
	if b[80] != 0x34 || b[81] != 0x12 || b[88] != 0x55 || b[104] != 0x66 {
		t.Fatalf("sysinfo layout wrong: % x", b)
	}
}

func TestTimespecEncodingRoundTrips(t *testing.T) {
	for _, ts := range []Timespec{{}, {Sec: 1, Nsec: 999999999}, {Sec: -1, Nsec: 5}} {
		if got := TimespecFromBytes(ts.Bytes()); got != ts {
			t.Errorf("%+v came back as %+v", ts, got)
		}
	}
	if (Timespec{Sec: 1 << 62}).Nanoseconds() != 1<<63-1 {
		t.Error("Nanoseconds does not saturate")
	}
	for _, tc := range []struct {
		ts    Timespec
		valid bool
	}{{Timespec{}, true}, {Timespec{Nsec: 1e9}, false}, {Timespec{Sec: -1}, false}, {Timespec{Nsec: -1}, false}} {
		if tc.ts.Valid() != tc.valid {
			t.Errorf("%+v.Valid() = %v", tc.ts, !tc.valid)
		}
	}
}
