// Package rules matches file content against YARA rules and looks up file names
// and hashes in public IOC lists. It is what `exsweep hunt` uses on web roots.
//
// # Engines
//
// The default engine is pure Go (CGO_ENABLED=0, so the static Windows .exe
// builds): rules are parsed by github.com/VirusTotal/gyp and compiled here for
// the subset of YARA that web-shell rules use. Building with cgo and -tags yara
// swaps NewEngine to libyara through github.com/hillu/go-yara/v4 for full YARA;
// Compile and CompileSources always give the built-in engine.
//
// # Supported YARA subset (built-in engine)
//
// Strings:
//   - text strings with ascii, wide, nocase, fullword, private, xor,
//     xor(N), xor(N-M), base64, base64wide and custom base64 alphabets;
//   - hex strings with ?? and nibble wildcards (?A, A?), ~ negation, jumps
//     [n], [n-m], [n-] up to 1000 bytes, and alternatives ( AA | BB CC );
//   - regular expressions with the i and s flags and the nocase, fullword
//     and private modifiers. YARA syntax is translated to RE2: {,n} becomes
//     {0,n} (RE2 would take it literally), \xHH is one byte, . is one byte,
//     POSIX-looking [[:alpha:]] keeps YARA's literal meaning. Every match is
//     found in linear time.
//
// Conditions: true, false, and, or, not, parentheses, $a, $a at N, $a in
// (N..M), #a, #a in (N..M), @a, @a[i], !a, !a[i], all/any/none/N/N% of them,
// of ($a*, $b), of ... at N, of ... in (N..M), filesize (with KB and MB),
// uint8/16/32 and int8/16/32 with their be forms, integer arithmetic
// (+ - * \ % & | ^ << >> ~ unary minus), comparisons, references to earlier
// rules and "any of (rule*)", private and global rules. Values follow YARA's
// three-valued logic: reading past the data, @a[i] past the last match or
// division by zero are undefined, and a rule whose condition is undefined does
// not match. Strings the condition never reads are an error, as in YARA
// (unless named $_...).
//
// Rejected with "FILE:LINE: rule X: <feature> is not supported by the built-in
// engine; build with -tags yara" (errors.Is(err, ErrUnsupported)): modules
// (pe., math., hash. ...; the import line itself is accepted), for..of and
// for..in loops, text and regex operators (contains, matches, ...), external
// variables, entrypoint, floats, include, wide regular expressions. Options.
// SkipUnsupported drops such rules (and rules that reference them) instead of
// failing. Regex constructs RE2 cannot run (backreferences, lookarounds,
// repeats above 1000, hex jumps above 1000) fail with an error naming the rule
// and string.
//
// Known differences from YARA: regex matches are Go's leftmost-first matches
// (counts of overlapping matches may differ for patterns without a literal
// prefix); case-insensitive matching of bytes 0xC0-0xDE also folds Latin-1
// letters; #a and @a[i] see at most Options.MaxMatchesPerString matches.
//
// # How a scan works
//
// One Aho-Corasick automaton (github.com/coregx/ahocorasick) runs over the
// ASCII-lower-cased input and finds every literal string and the literal atoms
// of regex and hex strings. Literal hits are verified on the spot. A regex or
// hex string whose every match starts with one of a few literals is checked
// with an anchored program at each hit, as YARA does; one whose matches only
// contain a literal is checked in windows around the hits; one without atoms
// reads the whole input. Regexes run lazily, only when a condition asks, and
// and/or/of operands whose strings are already known are evaluated first, so a
// rule decided by a missing literal never runs its regexes. Work is bounded:
// at most Options.MaxFileBytes are read per file, candidate lists and
// verification work have caps past which one linear pass is done instead.
//
// # IOC lists
//
// data/shell_files.csv (web-shell names and path patterns), data/hashes.csv
// (SHA-256), data/legit_exchange.csv (files a standard Exchange install puts
// in owa/auth and ecp/auth) and data/sources.csv are embedded and validated on
// load; see data/README.md.
package rules
