// Package exchange is exsweep's knowledge base: every Exchange build, which CU and
// update it belongs to, and which CVEs each build is patched against. The data is
// embedded (data/*.csv) and can be replaced at run time by a newer folder.
package exchange

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is an Exchange build number with 3 or 4 parts, as servers show it:
// 15.1.2176 (the CU, from an OWA path) or 15.1.2176.9 (the exact build).
type Version struct {
	Major, Minor, Build, Revision int
	// Parts is 3 or 4; a 3-part version has no revision.
	Parts int
}

// ErrBadVersion is wrapped by every Parse error.
var ErrBadVersion = errors.New("not an Exchange build number")

// maxPart bounds each component: Exchange revisions are 4 digits at most, builds 4,
// and a longer number is a typo or hostile input rather than a build.
const maxPart = 99999

// Parse accepts 3- or 4-part builds, the long form with leading zeros
// (15.02.0858.005) and surrounding white space. Anything else is an error that says
// what was wrong; Parse never panics.
func Parse(s string) (Version, error) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Version{}, fmt.Errorf("%w: empty", ErrBadVersion)
	}
	if len(s) > 40 {
		return Version{}, fmt.Errorf("%w: %d characters is too long", ErrBadVersion, len(s))
	}
	fields := strings.Split(s, ".")
	if len(fields) != 3 && len(fields) != 4 {
		return Version{}, fmt.Errorf("%w: %q has %d parts, want 3 (15.1.2176) or 4 (15.1.2176.9)", ErrBadVersion, raw, len(fields))
	}
	var nums [4]int
	for i, f := range fields {
		if f == "" {
			return Version{}, fmt.Errorf("%w: %q has an empty part", ErrBadVersion, raw)
		}
		for _, c := range f {
			if c < '0' || c > '9' {
				return Version{}, fmt.Errorf("%w: %q: part %q is not a number", ErrBadVersion, raw, f)
			}
		}
		n, err := strconv.Atoi(f)
		if err != nil || n > maxPart {
			return Version{}, fmt.Errorf("%w: %q: part %q is out of range", ErrBadVersion, raw, f)
		}
		nums[i] = n
	}
	v := Version{Major: nums[0], Minor: nums[1], Build: nums[2], Revision: nums[3], Parts: len(fields)}
	return v, nil
}

// MustParse is Parse for literals in tests and tables; it panics on a bad literal.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String gives the short canonical form: 15.2.858.5, or 15.2.858 for 3 parts.
func (v Version) String() string {
	if v.Parts == 0 {
		return ""
	}
	if v.Parts == 3 {
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Build)
	}
	return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Build, v.Revision)
}

// IsZero reports whether v was never set.
func (v Version) IsZero() bool { return v.Parts == 0 }

// Exact reports whether the version carries the revision (4 parts).
func (v Version) Exact() bool { return v.Parts == 4 }

// CU returns the 3-part prefix that names the CU (for Exchange 2013 and later).
func (v Version) CU() Version {
	return Version{Major: v.Major, Minor: v.Minor, Build: v.Build, Parts: 3}
}

// SameCU reports whether both versions share major, minor and build.
func (v Version) SameCU(o Version) bool {
	return v.Major == o.Major && v.Minor == o.Minor && v.Build == o.Build
}

// Compare orders versions numerically; a 3-part version compares as revision 0.
func (v Version) Compare(o Version) int {
	a := [4]int{v.Major, v.Minor, v.Build, v.Revision}
	b := [4]int{o.Major, o.Minor, o.Build, o.Revision}
	for i := range a {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}

// MarshalText makes Version print as its string in JSON.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }
