package lab

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMixDeterministic(t *testing.T) {
	for _, kind := range MixKinds {
		n := max(300, MinServers(kind))
		a, err := Mix(n, 42, kind)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Mix(n, 42, kind)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: same seed, different mix:\n%s", kind, diff)
		}
		c, _ := Mix(n, 43, kind)
		if cmp.Equal(a, c) {
			t.Errorf("%s: seeds 42 and 43 give the same mix", kind)
		}
		for i, s := range a {
			if err := s.Validate(); err != nil {
				t.Errorf("%s[%d] %s: %v", kind, i, s.Name, err)
			}
		}
	}
}

// TestMixCoversModes: all-modes and uniform show every mode; the catalogue
// alone does too.
func TestMixCoversModes(t *testing.T) {
	check := func(name string, servers []Server) {
		seen := map[string]bool{}
		for _, s := range servers {
			for _, m := range s.Modes() {
				seen[m] = true
			}
		}
		for _, m := range AllModes {
			if !seen[m] {
				t.Errorf("%s: no server shows mode %s", name, m)
			}
		}
	}
	check("catalogue", catalogue())
	all, err := Mix(MinServers(MixAllModes), 1, MixAllModes)
	if err != nil {
		t.Fatal(err)
	}
	check(MixAllModes, all)
	uni, _ := Mix(len(AllModes), 1, MixUniform)
	check(MixUniform, uni)
	if _, err := Mix(MinServers(MixAllModes)-1, 1, MixAllModes); err == nil {
		t.Error("all-modes accepted fewer servers than its catalogue")
	}
	if _, err := Mix(10, 1, "bogus"); err == nil {
		t.Error("unknown mix kind accepted")
	}
	names := map[string]bool{}
	for _, s := range catalogue() {
		if names[s.Name] {
			t.Errorf("catalogue name %s twice", s.Name)
		}
		names[s.Name] = true
	}
}

// TestMixRealistic checks the proportions the Mix comment promises, loosely.
func TestMixRealistic(t *testing.T) {
	const n = 4000
	servers, err := Mix(n, 7, MixRealistic)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, s := range servers {
		e, err := Expect(s)
		if err != nil {
			t.Fatal(err)
		}
		count["kind:"+string(e.Kind)]++
		if e.Exchange {
			count["exchange"]++
			count[e.Installed[:4]]++ // "14.3", "15.0", "15.1", "15.2"
			count["update:"+e.Update]++
			if e.Verdict == "patched" {
				count["patched"]++
			}
			if !e.BuildExact {
				count["cu-only"]++
			}
		}
		for _, m := range e.Modes {
			count[m]++
		}
	}
	within := func(key string, lo, hi float64, of int) {
		f := float64(count[key]) / float64(of)
		if f < lo || f > hi {
			t.Errorf("%s: %.3f of %d, want %.3f..%.3f", key, f, of, lo, hi)
		}
	}
	ex := count["exchange"]
	within("exchange", 0.84, 0.90, n)
	within("kind:plain-iis", 0.035, 0.065, n)
	within("14.3", 0.07, 0.13, ex)
	within("15.0", 0.20, 0.28, ex)
	within("15.1", 0.41, 0.51, ex)
	within("15.2", 0.16, 0.24, ex)
	within("update:Mar21SU", 0.15, 0.45, ex)
	within("header-stripped", 0.16, 0.24, ex)
	within("ecp-403", 0.12, 0.20, ex)
	within("webshells", 0.02, 0.08, ex)
	within("cu-only", 0.05, 0.40, ex)
	for _, m := range []string{ModeTarpit, ModeReset, ModeGarbage, ModeWAF, ModeTLS10Only, ModeExpiredCert, ModeHugeBody,
		ModeRedirectLoop, ModeRedirectOffsite, ModeHostileStrings, ModeManifestAtCU, ModeOWABelowCU, ModeHidePath, ModeECP404,
		ModeHeaderEmpty, ModeHeaderLowercase, ModeHeaderLongForm, ModeCatchAll200, ModeNginx} {
		if count[m] == 0 {
			t.Errorf("realistic mix of %d has no %s", n, m)
		}
	}
	if count[ModeExchangeSE] != 0 {
		t.Error("Exchange SE in a March 2021 population")
	}
	t.Logf("%v", count)
}
