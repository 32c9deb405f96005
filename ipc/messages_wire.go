package ipc

// Binary forms (wire.go) of the messages on the fork, exit and wait paths.
// Each pair lists the fields in the order of their declaration.

// MarshalBinary implements encoding.BinaryMarshaler.
func (r Request) MarshalBinary() ([]byte, error) {
	e := wireEnc{b: make([]byte, 0, 64)}
	e.uint(r.ID)
	e.str(string(r.Op))
	e.int(int64(r.Pid))
	e.int(int64(r.Pgid))
	e.int(int64(r.Tgid))
	e.int(int64(r.Sig))
	e.bool(r.Thread)
	e.int(int64(r.Options))
	e.int(int64(r.ExitSignal))
	e.bool(r.Flag)
	e.bytes(r.Info)
	e.str(r.Exe)
	e.strs(r.Argv)
	e.uint(r.Seq)
	e.count(len(r.Files), r.Files == nil)
	for _, f := range r.Files {
		e.uint(f[0])
		e.uint(f[1])
	}
	e.bool(r.Ticket)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (r *Request) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	r.ID = d.uint()
	r.Op = Op(d.str())
	r.Pid = d.int32()
	r.Pgid = d.int32()
	r.Tgid = d.int32()
	r.Sig = d.int32()
	r.Thread = d.bool()
	r.Options = d.int32()
	r.ExitSignal = d.int32()
	r.Flag = d.bool()
	r.Info = d.bytes()
	r.Exe = d.str()
	r.Argv = d.strs()
	r.Seq = d.uint()
	if n, isNil := d.count(); !isNil {
		r.Files = make([][2]uint64, n)
		for i := range r.Files {
			r.Files[i] = [2]uint64{d.uint(), d.uint()}
		}
	} else {
		r.Files = nil
	}
	r.Ticket = d.bool()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (r Reply) MarshalBinary() ([]byte, error) {
	e := wireEnc{b: make([]byte, 0, 64)}
	e.uint(r.ID)
	e.int(int64(r.Errno))
	e.int(int64(r.Pid))
	e.uint(uint64(r.Status))
	e.int(int64(r.Code))
	e.rusage(&r.Rusage)
	e.bool(r.Self)
	e.uint(r.Gen)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (r *Reply) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	r.ID = d.uint()
	r.Errno = d.int32()
	r.Pid = d.int32()
	r.Status = uint32(d.uint())
	r.Code = d.int32()
	d.rusage(&r.Rusage)
	r.Self = d.bool()
	r.Gen = d.uint()
	return d.done()
}

func (s *Signal) put(e *wireEnc) {
	e.int(int64(s.Sig))
	e.bytes(s.Info)
	e.bool(s.Thread)
	e.uint(s.Seq)
	e.int(int64(s.Tid))
}

func (s *Signal) get(d *wireDec) {
	s.Sig = d.int32()
	s.Info = d.bytes()
	s.Thread = d.bool()
	s.Seq = d.uint()
	s.Tid = d.int32()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (s Signal) MarshalBinary() ([]byte, error) {
	e := wireEnc{b: make([]byte, 0, 160)}
	s.put(&e)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (s *Signal) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	s.get(&d)
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (c ChildEvent) MarshalBinary() ([]byte, error) {
	e := wireEnc{b: make([]byte, 0, 200)}
	e.int(int64(c.Pid))
	e.bool(c.Exited)
	e.bool(c.Zombie != nil)
	if z := c.Zombie; z != nil {
		e.uint(uint64(z.Status))
		e.int(int64(z.Code))
		e.rusage(&z.Rusage)
		e.int(int64(z.Pgid))
		e.int(int64(z.ExitSignal))
	}
	e.bool(c.Signal != nil)
	if c.Signal != nil {
		c.Signal.put(&e)
	}
	e.bool(c.Adopted)
	e.int(int64(c.ExitSignal))
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (c *ChildEvent) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	c.Pid = d.int32()
	c.Exited = d.bool()
	c.Zombie = nil
	if d.bool() {
		z := &ZombieReport{}
		z.Status = uint32(d.uint())
		z.Code = d.int32()
		d.rusage(&z.Rusage)
		z.Pgid = d.int32()
		z.ExitSignal = d.int32()
		c.Zombie = z
	}
	c.Signal = nil
	if d.bool() {
		c.Signal = &Signal{}
		c.Signal.get(&d)
	}
	c.Adopted = d.bool()
	c.ExitSignal = d.int32()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (x Exited) MarshalBinary() ([]byte, error) {
	e := wireEnc{b: make([]byte, 0, 64)}
	e.uint(uint64(x.Status))
	e.rusage(&x.Rusage)
	e.bool(x.Reusable)
	e.str(x.Comm)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (x *Exited) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	x.Status = uint32(d.uint())
	d.rusage(&x.Rusage)
	x.Reusable = d.bool()
	x.Comm = d.str()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (f ExecFailed) MarshalBinary() ([]byte, error) {
	e := wireEnc{}
	e.int(int64(f.Errno))
	e.str(f.Message)
	e.bool(f.Unavailable)
	e.bool(f.Lost)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (f *ExecFailed) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	f.Errno = int(d.int())
	f.Message = d.str()
	f.Unavailable = d.bool()
	f.Lost = d.bool()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (s Start) MarshalBinary() ([]byte, error) {
	e := wireEnc{b: make([]byte, 0, 256)}
	e.str(s.Path)
	e.strs(s.Argv)
	e.strs(s.Envp)
	e.int(int64(s.Pid))
	e.int(int64(s.Ppid))
	e.str(s.Backend)
	e.int(int64(s.Timeout))
	e.str(s.LogLevel)
	e.str(s.Sysroot)
	e.count(len(s.Binds), s.Binds == nil)
	for _, b := range s.Binds {
		e.str(b.Host)
		e.str(b.Guest)
		e.bool(b.ReadOnly)
	}
	e.str(s.Workdir)
	e.bool(s.Fork)
	e.int32s(s.Inherited)
	e.int32s(s.Closed)
	e.bool(s.Spare)
	e.bool(s.Reserved)
	e.bool(s.Trace)
	e.bool(s.TraceOut)
	e.int(s.TraceOutMinUs)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (s *Start) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	s.Path = d.str()
	s.Argv = d.strs()
	s.Envp = d.strs()
	s.Pid = d.int32()
	s.Ppid = d.int32()
	s.Backend = d.str()
	s.Timeout = int(d.int())
	s.LogLevel = d.str()
	s.Sysroot = d.str()
	s.Binds = nil
	if n, isNil := d.count(); !isNil {
		s.Binds = make([]Bind, n)
		for i := range s.Binds {
			s.Binds[i] = Bind{Host: d.str(), Guest: d.str(), ReadOnly: d.bool()}
		}
	}
	s.Workdir = d.str()
	s.Fork = d.bool()
	s.Inherited = d.int32s()
	s.Closed = d.int32s()
	s.Spare = d.bool()
	s.Reserved = d.bool()
	s.Trace = d.bool()
	s.TraceOut = d.bool()
	s.TraceOutMinUs = d.int()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (r Reparent) MarshalBinary() ([]byte, error) {
	e := wireEnc{}
	e.int(int64(r.Ppid))
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (r *Reparent) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	r.Ppid = d.int32()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (a Assign) MarshalBinary() ([]byte, error) {
	e := wireEnc{}
	e.int(int64(a.Pid))
	e.int(int64(a.Ppid))
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (a *Assign) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	a.Pid = d.int32()
	a.Ppid = d.int32()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (c fdChunk) MarshalBinary() ([]byte, error) {
	e := wireEnc{}
	e.int(int64(c.Index))
	e.int(int64(c.Total))
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (c *fdChunk) UnmarshalBinary(b []byte) error {
	d := wireDec{b: b}
	c.Index = int(d.int())
	c.Total = int(d.int())
	return d.done()
}
