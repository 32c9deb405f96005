package abi

// Terminal ioctls (include/uapi/asm-generic/ioctls.h) and their argument
// structures.
const (
	TCGETS     = 0x5401
	TCSETS     = 0x5402
	TCSETSW    = 0x5403
	TCSETSF    = 0x5404
	TCSBRK     = 0x5409
	TCXONC     = 0x540A
	TCFLSH     = 0x540B
	TIOCSCTTY  = 0x540E
	TIOCGPGRP  = 0x540F
	TIOCSPGRP  = 0x5410
	TIOCOUTQ   = 0x5411
	TIOCGWINSZ = 0x5413
	TIOCSWINSZ = 0x5414
	FIONREAD   = 0x541B
	TIOCNOTTY  = 0x5422
	FIONBIO    = 0x5421
	TIOCGSID   = 0x5429
	FIONCLEX   = 0x5450
	FIOCLEX    = 0x5451
	FIOASYNC   = 0x5452

	// Pseudo-terminal leader requests.
	TIOCGPTN    = 0x80045430
	TIOCSPTLCK  = 0x40045431
	TIOCGPTPEER = 0x5441
)

// NCCS is the size of c_cc in the kernel's struct termios.
const NCCS = 19

// Termios is the kernel's struct termios (TCGETS/TCSETS), which has no
// speed fields, unlike glibc's.
type Termios struct {
	Iflag uint32
	Oflag uint32
	Cflag uint32
	Lflag uint32
	Line  uint8
	CC    [NCCS]uint8
}

// SizeofTermios is sizeof(struct termios) as the kernel copies it.
const SizeofTermios = 36

// SizeBytes returns the Linux size of the structure.
func (*Termios) SizeBytes() int { return SizeofTermios }

// MarshalBytes encodes t into dst.
func (t *Termios) MarshalBytes(dst []byte) {
	fileOrder.PutUint32(dst[0:], t.Iflag)
	fileOrder.PutUint32(dst[4:], t.Oflag)
	fileOrder.PutUint32(dst[8:], t.Cflag)
	fileOrder.PutUint32(dst[12:], t.Lflag)
	dst[16] = t.Line
	copy(dst[17:SizeofTermios], t.CC[:])
}

// UnmarshalBytes decodes src into t.
func (t *Termios) UnmarshalBytes(src []byte) {
	t.Iflag = fileOrder.Uint32(src[0:])
	t.Oflag = fileOrder.Uint32(src[4:])
	t.Cflag = fileOrder.Uint32(src[8:])
	t.Lflag = fileOrder.Uint32(src[12:])
	t.Line = src[16]
	copy(t.CC[:], src[17:SizeofTermios])
}

// Winsize is struct winsize (TIOCGWINSZ/TIOCSWINSZ).
type Winsize struct {
	Row    uint16
	Col    uint16
	Xpixel uint16
	Ypixel uint16
}

// SizeofWinsize is sizeof(struct winsize).
const SizeofWinsize = 8

// SizeBytes returns the Linux size of the structure.
func (*Winsize) SizeBytes() int { return SizeofWinsize }

// MarshalBytes encodes w into dst.
func (w *Winsize) MarshalBytes(dst []byte) {
	fileOrder.PutUint16(dst[0:], w.Row)
	fileOrder.PutUint16(dst[2:], w.Col)
	fileOrder.PutUint16(dst[4:], w.Xpixel)
	fileOrder.PutUint16(dst[6:], w.Ypixel)
}

// UnmarshalBytes decodes src into w.
func (w *Winsize) UnmarshalBytes(src []byte) {
	w.Row = fileOrder.Uint16(src[0:])
	w.Col = fileOrder.Uint16(src[2:])
	w.Xpixel = fileOrder.Uint16(src[4:])
	w.Ypixel = fileOrder.Uint16(src[6:])
}
