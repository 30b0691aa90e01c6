//go:build cgo && yara

package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestYaraBackendAgreesOnSamples runs the shipped rules through libyara and
// the built-in engine over every sample and legitimate fixture: both must
// name the same rules. This is the check that the built-in engine implements
// YARA's meaning, not just its syntax.
func TestYaraBackendAgreesOnSamples(t *testing.T) {
	ye, err := NewEngine(Options{}, BuiltinSources()...)
	if err != nil {
		t.Fatal(err)
	}
	if ye.Backend() != "libyara" {
		t.Fatalf("backend %s", ye.Backend())
	}
	rs := builtinForTest(t)
	files, _ := filepath.Glob("testdata/samples/*/*")
	legit, _ := filepath.Glob("testdata/legit/*")
	for _, f := range append(files, legit...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got := ruleNames(ye.Scan(data))
		want := ruleNames(rs.Scan(data))
		if !slices.Equal(got, want) {
			t.Errorf("%s: libyara %v, built-in %v", f, got, want)
		}
	}
}

func TestYaraBackendCompileError(t *testing.T) {
	_, err := NewEngine(Options{}, Source{"bad.yar", "rule r {\n condition: nope }"})
	if err == nil || !strings.HasPrefix(err.Error(), "bad.yar:2: ") {
		t.Errorf("error %v, want it to start with bad.yar:2:", err)
	}
}

// TestYaraBackendAgreesOnConstructs runs the built-in engine's construct
// tables through libyara: same expected answers, so every supported construct
// means what YARA means.
func TestYaraBackendAgreesOnConstructs(t *testing.T) {
	// Syntax newer than Debian's libyara 4.2.3: "<set> at N" and "~" in hex
	// strings came with YARA 4.3.
	newer := map[string]bool{"of at": true, "hex not": true, "hex not miss": true}
	run := func(t *testing.T, rule string, data []byte) []Match {
		t.Helper()
		e, err := NewEngine(Options{}, Source{"t.yar", rule})
		if err != nil {
			t.Fatal(err)
		}
		return e.Scan(data)
	}
	for _, tc := range conditionCases {
		t.Run("condition/"+tc.name, func(t *testing.T) {
			if newer[tc.name] {
				t.Skip("needs YARA 4.3")
			}
			if got := len(run(t, tc.rule, []byte(conditionData))) == 1; got != tc.want {
				t.Errorf("libyara matched = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range modifierCases {
		t.Run("modifier/"+tc.name, func(t *testing.T) {
			got := len(run(t, `rule r { strings: $a = `+tc.str+` condition: $a }`, []byte(tc.data))) == 1
			if got != tc.want {
				t.Errorf("libyara matched = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range hexRegexpCases {
		t.Run("string/"+tc.name, func(t *testing.T) {
			if newer[tc.name] {
				t.Skip("needs YARA 4.3")
			}
			rule := `rule r { strings: $a = ` + tc.str + ` condition: #a == ` + strconv.Itoa(tc.want) + ` }`
			if got := len(run(t, rule, tc.data)); got != 1 {
				t.Errorf("libyara: #a != %d", tc.want)
			}
		})
	}
}
