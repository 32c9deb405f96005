package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"

	"github.com/elfuse/elfuse/tests/testutil"
)

// busybox is the static multi-call binary from Debian's busybox-static.
const busybox = "/bin/busybox"

// bb is a busybox applet invocation: argv[0] is the binary, argv[1] the
// applet.
func bb(args ...string) []string { return append([]string{busybox}, args...) }

// sh runs a script with busybox's ash.
func sh(script string, args ...string) []string {
	return append([]string{busybox, "sh", "-c", script, "sh"}, args...)
}

// Text fixtures shared by the text-tool cases.
var (
	linesTxt = "the quick brown fox\njumps over\nthe lazy dog\nfoo bar baz\nfoo\nfoo\nzebra 10\napple 2\nmango 33\n\tindented line\n"
	csvTxt   = "name,qty,price\npear,3,1.25\napple,12,0.5\nfig,7,3.75\nbanana,5,0.25\n"
	numsTxt  = "10\n2\n33\n-4\n7\n100\n2\n"
	tabsTxt  = "a\tb\tc\n\tx\ty\nno tabs here\n12345678\t9\n"
	longTxt  = strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing elit ", 6) + "\n"
)

func binData() string {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return string(b)
}

// textFiles is the directory every text-tool case starts from.
func textFiles() []testutil.File {
	return []testutil.File{
		{Path: "lines.txt", Content: linesTxt},
		{Path: "data.csv", Content: csvTxt},
		{Path: "nums.txt", Content: numsTxt},
		{Path: "tabs.txt", Content: tabsTxt},
		{Path: "long.txt", Content: longTxt},
		{Path: "bin.dat", Content: binData()},
		{Path: "empty.txt", Content: ""},
		{Path: "calc.txt", Content: "2^100\nscale=20\n4*a(1)\n"},
	}
}

// treeFiles is a small deterministic tree for file-operation cases.
func treeFiles() []testutil.File {
	return []testutil.File{
		{Path: "tree", Dir: true},
		{Path: "tree/readme.txt", Content: "read me\n"},
		{Path: "tree/script.sh", Content: "#!/bin/sh\necho hi\n", Mode: 0o755},
		{Path: "tree/secret", Content: "s3cr3t\n", Mode: 0o600},
		{Path: "tree/sub", Dir: true, Mode: 0o750},
		{Path: "tree/sub/deep.txt", Content: strings.Repeat("deep\n", 300)},
		{Path: "tree/sub/empty", Content: ""},
		{Path: "tree/link", Link: "readme.txt"},
		{Path: "tree/dangling", Link: "nowhere"},
	}
}

// fixture loads a committed binary fixture from testdata/fixtures.
func fixture(name string) testutil.File {
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		panic(err) // the fixture is part of the repository
	}
	return testutil.File{Path: name, Content: string(b)}
}

// tarFixture builds a deterministic tar archive in Go (fixed names, modes,
// owners and times), so extraction cases do not depend on the tool under
// test to make their input.
func tarFixture() []byte {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.ModTime = testutil.FixedTime
		h.Uname, h.Gname = "root", "root"
		h.Format = tar.FormatUSTAR
		h.Size = int64(len(body))
		if h.Typeflag == tar.TypeDir || h.Typeflag == tar.TypeSymlink {
			h.Size = 0
		}
		if err := w.WriteHeader(h); err != nil {
			panic(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			panic(err)
		}
	}
	add(&tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "pkg/bin/", Typeflag: tar.TypeDir, Mode: 0o700}, "")
	add(&tar.Header{Name: "pkg/bin/run", Typeflag: tar.TypeReg, Mode: 0o755}, "#!/bin/sh\nexit 0\n")
	add(&tar.Header{Name: "pkg/README", Typeflag: tar.TypeReg, Mode: 0o644}, linesTxt)
	add(&tar.Header{Name: "pkg/data.bin", Typeflag: tar.TypeReg, Mode: 0o640}, binData())
	add(&tar.Header{Name: "pkg/readme.lnk", Typeflag: tar.TypeSymlink, Linkname: "README", Mode: 0o777}, "")
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func gzipFixture(b []byte, name string) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Name = name
	w.ModTime = testutil.FixedTime
	if _, err := w.Write(b); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func archiveFiles() []testutil.File {
	tarb := tarFixture()
	return append(textFiles(),
		testutil.File{Path: "pkg.tar", Content: string(tarb)},
		testutil.File{Path: "pkg.tar.gz", Content: string(gzipFixture(tarb, "pkg.tar"))},
		testutil.File{Path: "lines.txt.gz", Content: string(gzipFixture([]byte(linesTxt), "lines.txt"))},
		fixture("sample.cpio"),
		fixture("sample.txt.bz2"),
		fixture("sample.txt.xz"),
	)
}
