package kernel

import (
	"slices"
	"testing"

	"github.com/elfuse/elfuse/kernel/abi"
	"golang.org/x/sys/unix"
)

func TestTTYSignalsInFollowsTheSpecialCharacters(t *testing.T) {
	var tio unix.Termios
	tio.Lflag = unix.ISIG | unix.IEXTEN
	tio.Cc[unix.VINTR], tio.Cc[unix.VQUIT], tio.Cc[unix.VSUSP], tio.Cc[unix.VLNEXT] = 3, 0x1c, 0x1a, 0x16
	cases := []struct {
		name string
		data [][]byte
		n    int
		want []int32
	}{
		{"plain text", [][]byte{[]byte("hello\n")}, 6, nil},
		{"one of each, in order", [][]byte{{0x1a, 'a', 3}, {0x1c}}, 4, []int32{abi.SIGTSTP, abi.SIGINT, abi.SIGQUIT}},
		{"repeats once", [][]byte{{3, 3, 3}}, 3, []int32{abi.SIGINT}},
		{"literal after lnext", [][]byte{{0x16, 3}, {0x16}, {0x1c}}, 4, nil},
		{"only what was written", [][]byte{{'x', 3}}, 1, nil},
		{"nul never matches", [][]byte{{0}}, 1, nil},
	}
	for _, c := range cases {
		if got := ttySignalsIn(&tio, c.data, c.n); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	tio.Cc[unix.VINTR] = 0 // disabled
	tio.Lflag &^= unix.IEXTEN
	if got := ttySignalsIn(&tio, [][]byte{{0x16, 0x1c, 3}}, 3); !slices.Equal(got, []int32{abi.SIGQUIT}) {
		t.Errorf("VINTR disabled, no IEXTEN: %v, want [SIGQUIT]", got)
	}
}
