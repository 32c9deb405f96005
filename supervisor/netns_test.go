package supervisor

import "testing"

func TestParseNet(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"host", NetHost, true},
		{"none", NetNone, true},
		{"", "", false},
		{"None", "", false},
		{"bridge", "", false},
		{"none ", "", false},
	} {
		got, err := ParseNet(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseNet(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestDropEnv(t *testing.T) {
	env := []string{"A=1", netChildEnv + "=1", "B=2", netChildEnv + "X=keep"}
	got := dropEnv(env, netChildEnv)
	want := []string{"A=1", "B=2", netChildEnv + "X=keep"}
	if len(got) != len(want) {
		t.Fatalf("dropEnv = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("dropEnv = %q, want %q", got, want)
		}
	}
	if env[1] != netChildEnv+"=1" {
		t.Errorf("dropEnv changed its argument: %q", env)
	}
}
