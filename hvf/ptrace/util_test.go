package ptrace

import (
	"os"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func readDirNames(p string) ([]string, error) {
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, nil
}
