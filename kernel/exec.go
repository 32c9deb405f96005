package kernel

// STUB: owned by the mm/loader helper, replaced wholesale.

// AuxEntry is one auxiliary-vector pair.
type AuxEntry struct{ Key, Val uint64 }

// StartProcess loads the ELF at path (host path) with argv/envp into a new
// address space on a new Machine and returns the first task, registers set
// at the entry point.
func (k *Kernel) StartProcess(path string, argv, envp []string) (*Task, error) {
	return nil, nil
}
