package main

import (
	"slices"
	"testing"
)

func TestGuestEnvAppliesClearAndSets(t *testing.T) {
	t.Setenv("ELFUSE_TEST_COPIED", "from-host")
	host := []string{"A=1", "B=2"}
	cases := []struct {
		name  string
		clear bool
		sets  []string
		want  []string
	}{
		{"inherit", false, nil, []string{"A=1", "B=2"}},
		{"clear", true, nil, nil},
		{"set_new", false, []string{"C=3"}, []string{"A=1", "B=2", "C=3"}},
		{"replace_in_place", false, []string{"A=9"}, []string{"A=9", "B=2"}},
		{"clear_then_set", true, []string{"C=3", "C=4"}, []string{"C=4"}},
		{"copy_from_host", true, []string{"ELFUSE_TEST_COPIED", "ELFUSE_TEST_UNSET_VAR"}, []string{"ELFUSE_TEST_COPIED=from-host"}},
		{"empty_value", false, []string{"B="}, []string{"A=1", "B="}},
	}
	for _, c := range cases {
		if got := guestEnv(host, c.clear, c.sets); !slices.Equal(got, c.want) {
			t.Errorf("%s: guestEnv = %q, want %q", c.name, got, c.want)
		}
	}
	if host[0] != "A=1" {
		t.Errorf("guestEnv changed the host slice: %q", host)
	}
}
