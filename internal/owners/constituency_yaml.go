package owners

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML reads the YAML constituency format:
//
//	organisations:
//	  - name: Example Hosting
//	    to: [abuse@example.net]          # a list or a single address
//	    cc: soc@example.net
//	    language: de
//	    cidrs: [192.0.2.0/24, 2001:db8::/32]
//	    asns: [AS64500, 64501]
//	    domains: [example.org]
//
// It walks yaml.v3's node tree rather than decoding into structs so that
// every value keeps its own line, and so unknown keys (a typo like "cidr")
// are errors instead of silently ignored fields.
func parseYAML(file string, data []byte, errs *errorList) (decls []*orgDecl) {
	defer func() {
		// yaml.v3 has had panics on malformed input; a bad file must be an
		// error, never a crash.
		if r := recover(); r != nil {
			errs.add(file, 0, "YAML parser failed: %v", r)
			decls = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			errs.add(file, 0, "empty file (want a top-level \"organisations:\" list)")
			return nil
		}
		addYAMLError(file, err, errs)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		errs.add(file, extra.Line, "more than one YAML document (remove the \"---\")")
		return nil
	} else if !errors.Is(err, io.EOF) {
		addYAMLError(file, err, errs)
		return nil
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			errs.add(file, 0, "empty file (want a top-level \"organisations:\" list)")
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		errs.add(file, root.Line, "top level must be a mapping with an \"organisations:\" list")
		return nil
	}
	var list *yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !checkKey(file, k, seen, errs) {
			continue
		}
		switch k.Value {
		case "organisations", "organizations":
			if list != nil {
				errs.add(file, k.Line, "both \"organisations\" and \"organizations\"; use one")
				continue
			}
			list = v
		default:
			errs.add(file, k.Line, "unknown key %q (want \"organisations\")", preview(k.Value))
		}
	}
	if list == nil {
		errs.add(file, root.Line, "missing \"organisations:\" list")
		return nil
	}
	if isNull(list) {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		errs.add(file, list.Line, "\"organisations\" must be a list")
		return nil
	}
	for _, item := range list.Content {
		if d := yamlOrg(file, item, errs); d != nil {
			decls = append(decls, d)
		}
	}
	return decls
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// addYAMLError turns "yaml: line 3: did not find expected key" into a
// LineError with the line pulled out, so YAML syntax errors read like our
// own validation errors.
func addYAMLError(file string, err error, errs *errorList) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, m := range te.Errors {
			addYAMLError(file, errors.New(m), errs)
		}
		return
	}
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		errs.add(file, n, "YAML: %s", m[2])
		return
	}
	errs.add(file, 0, "YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// checkKey validates a mapping key: a plain scalar, not a merge key or
// alias, and not repeated (yaml.v3 only checks duplicates when decoding into
// Go values, which we do not).
func checkKey(file string, k *yaml.Node, seen map[string]int, errs *errorList) bool {
	if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
		errs.add(file, k.Line, "unsupported key (anchors, aliases and merge keys are not supported)")
		return false
	}
	if prev, dup := seen[k.Value]; dup {
		errs.add(file, k.Line, "key %q repeated (first at line %d)", preview(k.Value), prev)
		return false
	}
	seen[k.Value] = k.Line
	return true
}

func yamlOrg(file string, n *yaml.Node, errs *errorList) *orgDecl {
	if n.Kind != yaml.MappingNode {
		errs.add(file, n.Line, "organisation must be a mapping with name, to, ...")
		return nil
	}
	d := &orgDecl{file: file, line: n.Line}
	before := len(errs.errs) + errs.extra
	seen := map[string]int{}
	var haveName, haveTo bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !checkKey(file, k, seen, errs) {
			continue
		}
		switch k.Value {
		case "name":
			haveName = true
			s, ok := yamlScalar(file, k.Value, v, errs)
			if !ok {
				continue
			}
			name, err := checkName(s)
			if err != nil {
				errs.add(file, v.Line, "%v", err)
				continue
			}
			d.name = name
		case "to", "cc":
			haveTo = haveTo || k.Value == "to"
			var addrs []string
			for _, it := range yamlList(file, k.Value, v, errs) {
				a, err := normalizeEmail(it.v)
				if err != nil {
					errs.add(file, it.line, "%s: %v", k.Value, err)
					continue
				}
				addrs = appendUnique(addrs, a)
			}
			if len(addrs) > MaxAddressesPerList {
				errs.add(file, v.Line, "%s: more than %d addresses", k.Value, MaxAddressesPerList)
			}
			if k.Value == "to" {
				d.to = addrs
			} else {
				d.cc = addrs
			}
		case "language":
			s, ok := yamlScalar(file, k.Value, v, errs)
			if !ok {
				continue
			}
			lang, err := normalizeLanguage(s)
			if err != nil {
				errs.add(file, v.Line, "%v", err)
				continue
			}
			d.language = lang
		case "cidrs":
			for _, it := range yamlList(file, k.Value, v, errs) {
				p, err := parsePrefix(it.v)
				if err != nil {
					errs.add(file, it.line, "%v", err)
					continue
				}
				d.cidrs = append(d.cidrs, located[netip.Prefix]{p, it.line})
			}
		case "asns":
			for _, it := range yamlList(file, k.Value, v, errs) {
				a, err := parseASN(it.v)
				if err != nil {
					errs.add(file, it.line, "%v", err)
					continue
				}
				d.asns = append(d.asns, located[uint32]{a, it.line})
			}
		case "domains":
			for _, it := range yamlList(file, k.Value, v, errs) {
				dm, err := normalizeDomain(it.v)
				if err != nil {
					errs.add(file, it.line, "%v", err)
					continue
				}
				d.domains = append(d.domains, located[string]{dm, it.line})
			}
		default:
			errs.add(file, k.Line, "unknown key %q (want name, to, cc, language, cidrs, asns, domains)", preview(k.Value))
		}
	}
	if !haveName {
		errs.add(file, n.Line, "organisation has no name")
	}
	if !haveTo {
		errs.add(file, n.Line, "organisation %q has no \"to\" address", d.name)
	} else if len(d.to) == 0 && len(errs.errs)+errs.extra == before {
		errs.add(file, n.Line, "organisation %q has no \"to\" address", d.name)
	}
	if len(errs.errs)+errs.extra != before {
		return nil
	}
	return d
}

func yamlScalar(file, key string, v *yaml.Node, errs *errorList) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		errs.add(file, v.Line, "%s must be a single value", key)
		return "", false
	}
	if isNull(v) {
		return "", true
	}
	return v.Value, true
}

// yamlList accepts a sequence of scalars or a single scalar.
func yamlList(file, key string, v *yaml.Node, errs *errorList) []located[string] {
	switch v.Kind {
	case yaml.ScalarNode:
		if isNull(v) {
			return nil
		}
		return []located[string]{{v.Value, v.Line}}
	case yaml.SequenceNode:
		out := make([]located[string], 0, len(v.Content))
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode || isNull(it) {
				errs.add(file, it.Line, "%s: entries must be single values", key)
				continue
			}
			out = append(out, located[string]{it.Value, it.Line})
		}
		return out
	}
	errs.add(file, v.Line, "%s must be a list", key)
	return nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
