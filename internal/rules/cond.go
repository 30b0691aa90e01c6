package rules

import (
	"encoding/binary"
	"math"
	"sort"
	"strings"

	"github.com/VirusTotal/gyp/ast"
)

// Conditions use YARA's three-valued logic: reading past the end of the data
// (uint32(filesize)), @a[5] with three matches, or division by zero give
// "undefined", which is neither true nor false; `not undefined` is undefined and
// a rule whose condition is undefined does not match.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndef
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

type boolNode interface {
	eval(s *scanState) tri
	// cost estimates the work eval still has to do in this scan: 0 when
	// every string it reads is known (literals, regexes already verified or
	// whose atoms never occurred). and/or/of evaluate free operands first,
	// so a regex is not verified when a free test already decides.
	cost(s *scanState) int
}

type intNode interface {
	eval(s *scanState) (int64, bool)
	cost(s *scanState) int
}

const maxCondDepth = 200

// --- bool nodes

type constBool bool

func (c constBool) eval(*scanState) tri { return triOf(bool(c)) }
func (constBool) cost(*scanState) int   { return 0 }

type andNode []boolNode

func (n andNode) eval(s *scanState) tri {
	res := triTrue
	var done bool
	for c := range freeFirst(s, n) {
		switch c.eval(s) {
		case triFalse:
			done = true
		case triUndef:
			res = triUndef
		}
		if done {
			return triFalse
		}
	}
	return res
}

func (n andNode) cost(s *scanState) int { return sumCost(s, n) }

type orNode []boolNode

func (n orNode) eval(s *scanState) tri {
	res := triFalse
	for c := range freeFirst(s, n) {
		switch c.eval(s) {
		case triTrue:
			return triTrue
		case triUndef:
			res = triUndef
		}
	}
	return res
}

func (n orNode) cost(s *scanState) int { return sumCost(s, n) }

func sumCost(s *scanState, n []boolNode) int {
	t := 0
	for _, c := range n {
		t += c.cost(s)
	}
	return t
}

// freeFirst yields the operands whose cost is 0 now, then the others in
// source order. Costs are taken once up front so no operand is yielded twice.
func freeFirst(s *scanState, n []boolNode) func(func(boolNode) bool) {
	return func(yield func(boolNode) bool) {
		if len(n) == 1 || len(n) > 64 {
			for _, c := range n {
				if !yield(c) {
					return
				}
			}
			return
		}
		var free uint64
		for i, c := range n {
			if c.cost(s) == 0 {
				free |= 1 << i
				if !yield(c) {
					return
				}
			}
		}
		for i, c := range n {
			if free&(1<<i) == 0 && !yield(c) {
				return
			}
		}
	}
}

type notNode struct{ x boolNode }

func (n notNode) eval(s *scanState) tri {
	switch n.x.eval(s) {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUndef
}
func (n notNode) cost(s *scanState) int { return n.x.cost(s) }

type cmpNode struct {
	op   ast.OperatorType
	a, b intNode
}

func (n cmpNode) eval(s *scanState) tri {
	a, ok := n.a.eval(s)
	if !ok {
		return triUndef
	}
	b, ok := n.b.eval(s)
	if !ok {
		return triUndef
	}
	switch n.op {
	case ast.OpEqual:
		return triOf(a == b)
	case ast.OpNotEqual:
		return triOf(a != b)
	case ast.OpLessThan:
		return triOf(a < b)
	case ast.OpLessOrEqual:
		return triOf(a <= b)
	case ast.OpGreaterThan:
		return triOf(a > b)
	case ast.OpGreaterOrEqual:
		return triOf(a >= b)
	}
	return triUndef
}
func (n cmpNode) cost(s *scanState) int { return n.a.cost(s) + n.b.cost(s) }

type intAsBool struct{ x intNode }

func (n intAsBool) eval(s *scanState) tri {
	v, ok := n.x.eval(s)
	if !ok {
		return triUndef
	}
	return triOf(v != 0)
}
func (n intAsBool) cost(s *scanState) int { return n.x.cost(s) }

// strNode is $a, $a at N, $a in (N..M).
type strNode struct {
	pat    int
	at     intNode
	lo, hi intNode
}

func (n strNode) eval(s *scanState) tri {
	ms := s.matches(n.pat)
	switch {
	case n.at != nil:
		at, ok := n.at.eval(s)
		if !ok {
			return triUndef
		}
		return triOf(hasMatchAt(ms, at))
	case n.lo != nil:
		lo, ok1 := n.lo.eval(s)
		hi, ok2 := n.hi.eval(s)
		if !ok1 || !ok2 {
			return triUndef
		}
		return triOf(countIn(ms, lo, hi) > 0)
	}
	return triOf(len(ms) > 0)
}
func (n strNode) cost(s *scanState) int {
	c := s.patCost(n.pat)
	if n.at != nil {
		c += n.at.cost(s)
	}
	if n.lo != nil {
		c += n.lo.cost(s) + n.hi.cost(s)
	}
	return c
}

func hasMatchAt(ms []smatch, at int64) bool {
	i := sort.Search(len(ms), func(i int) bool { return int64(ms[i].off) >= at })
	return i < len(ms) && int64(ms[i].off) == at
}

func countIn(ms []smatch, lo, hi int64) int64 {
	if hi < lo {
		return 0
	}
	i := sort.Search(len(ms), func(i int) bool { return int64(ms[i].off) >= lo })
	j := sort.Search(len(ms), func(i int) bool { return int64(ms[i].off) > hi })
	return int64(j - i)
}

// ofNode is "<quantifier> of <set> [at N | in (N..M)]".
type ofNode struct {
	quant  quantifier
	pats   []int
	rules  []int
	at     intNode
	lo, hi intNode
}

type quantKind uint8

const (
	quantAll quantKind = iota
	quantAny
	quantNone
	quantCount
	quantPercent
)

type quantifier struct {
	kind quantKind
	n    intNode
}

func (n ofNode) eval(s *scanState) tri {
	total := len(n.pats) + len(n.rules)
	var need int64
	switch n.quant.kind {
	case quantAll:
		need = int64(total)
	case quantAny:
		need = 1
	case quantNone:
		need = 0
	case quantCount, quantPercent:
		v, ok := n.quant.n.eval(s)
		if !ok {
			return triUndef
		}
		if n.quant.kind == quantPercent {
			// YARA rounds the percentage up to whole items.
			need = (v*int64(total) + 99) / 100
		} else {
			need = v
		}
	}
	var at, lo, hi int64
	if n.at != nil {
		var ok bool
		if at, ok = n.at.eval(s); !ok {
			return triUndef
		}
	}
	if n.lo != nil {
		var ok1, ok2 bool
		lo, ok1 = n.lo.eval(s)
		hi, ok2 = n.hi.eval(s)
		if !ok1 || !ok2 {
			return triUndef
		}
	}
	var got int64
	remaining := int64(total)
	for p := range s.freePatsFirst(n.pats) {
		ms := s.matches(p)
		hit := len(ms) > 0
		switch {
		case n.at != nil:
			hit = hasMatchAt(ms, at)
		case n.lo != nil:
			hit = countIn(ms, lo, hi) > 0
		}
		if hit {
			got++
		}
		remaining--
		if n.quant.kind == quantNone && got > 0 {
			return triFalse
		}
		if n.quant.kind != quantNone && got >= need && need > 0 {
			return triTrue
		}
		if got+remaining < need {
			return triFalse
		}
	}
	for _, r := range n.rules {
		if s.ruleResult(r) == triTrue {
			got++
		}
	}
	if n.quant.kind == quantNone {
		return triOf(got == 0)
	}
	return triOf(got >= need)
}
func (n ofNode) cost(s *scanState) int {
	c := 0
	for _, p := range n.pats {
		c += s.patCost(p)
	}
	for _, r := range n.rules {
		c += s.ruleCost(r)
	}
	return c
}

type ruleRef struct {
	rule int
}

func (n ruleRef) eval(s *scanState) tri { return s.ruleResult(n.rule) }
func (n ruleRef) cost(s *scanState) int { return s.ruleCost(n.rule) }

// --- integer nodes

type constInt int64

func (c constInt) eval(*scanState) (int64, bool) { return int64(c), true }
func (constInt) cost(*scanState) int             { return 0 }

type filesizeNode struct{}

func (filesizeNode) eval(s *scanState) (int64, bool) { return s.filesize, true }
func (filesizeNode) cost(*scanState) int             { return 0 }

type countNode struct {
	pat    int
	lo, hi intNode
}

func (n countNode) eval(s *scanState) (int64, bool) {
	ms := s.matches(n.pat)
	if n.lo == nil {
		return int64(len(ms)), true
	}
	lo, ok1 := n.lo.eval(s)
	hi, ok2 := n.hi.eval(s)
	if !ok1 || !ok2 {
		return 0, false
	}
	return countIn(ms, lo, hi), true
}
func (n countNode) cost(s *scanState) int {
	c := s.patCost(n.pat)
	if n.lo != nil {
		c += n.lo.cost(s) + n.hi.cost(s)
	}
	return c
}

// offsetNode is @a[i] (offset) or !a[i] (length); i is 1-based.
type offsetNode struct {
	pat    int
	index  intNode
	length bool
}

func (n offsetNode) eval(s *scanState) (int64, bool) {
	i, ok := n.index.eval(s)
	if !ok {
		return 0, false
	}
	ms := s.matches(n.pat)
	if i < 1 || i > int64(len(ms)) {
		return 0, false
	}
	if n.length {
		return int64(ms[i-1].len), true
	}
	return int64(ms[i-1].off), true
}
func (n offsetNode) cost(s *scanState) int { return s.patCost(n.pat) + n.index.cost(s) }

// readNode is uint8/16/32, int8/16/32 and their big-endian forms.
type readNode struct {
	size   int
	signed bool
	big    bool
	off    intNode
}

func (n readNode) eval(s *scanState) (int64, bool) {
	off, ok := n.off.eval(s)
	if !ok || off < 0 || off > int64(len(s.data))-int64(n.size) {
		return 0, false
	}
	b := s.data[off : off+int64(n.size)]
	var u uint32
	switch n.size {
	case 1:
		u = uint32(b[0])
	case 2:
		if n.big {
			u = uint32(binary.BigEndian.Uint16(b))
		} else {
			u = uint32(binary.LittleEndian.Uint16(b))
		}
	case 4:
		if n.big {
			u = binary.BigEndian.Uint32(b)
		} else {
			u = binary.LittleEndian.Uint32(b)
		}
	}
	if !n.signed {
		return int64(u), true
	}
	switch n.size {
	case 1:
		return int64(int8(u)), true
	case 2:
		return int64(int16(u)), true
	}
	return int64(int32(u)), true
}
func (n readNode) cost(s *scanState) int { return n.off.cost(s) }

type arithNode struct {
	op  ast.OperatorType
	ops []intNode
}

func (n arithNode) eval(s *scanState) (int64, bool) {
	acc, ok := n.ops[0].eval(s)
	if !ok {
		return 0, false
	}
	for _, o := range n.ops[1:] {
		v, ok := o.eval(s)
		if !ok {
			return 0, false
		}
		switch n.op {
		case ast.OpAdd:
			acc += v
		case ast.OpSub:
			acc -= v
		case ast.OpMul:
			acc *= v
		case ast.OpDiv, ast.OpMod:
			if v == 0 {
				return 0, false
			}
			if v == -1 && acc == math.MinInt64 {
				// The one overflowing division; Go defines it, YARA
				// does not, so call it undefined.
				return 0, false
			}
			if n.op == ast.OpDiv {
				acc /= v
			} else {
				acc %= v
			}
		case ast.OpBitAnd:
			acc &= v
		case ast.OpBitOr:
			acc |= v
		case ast.OpBitXor:
			acc ^= v
		case ast.OpShiftLeft, ast.OpShiftRight:
			if v < 0 {
				return 0, false
			}
			if v >= 64 {
				acc = 0
			} else if n.op == ast.OpShiftLeft {
				acc <<= uint(v)
			} else {
				acc >>= uint(v)
			}
		default:
			return 0, false
		}
	}
	return acc, true
}
func (n arithNode) cost(s *scanState) int {
	t := 0
	for _, o := range n.ops {
		t += o.cost(s)
	}
	return t
}

type negNode struct {
	x   intNode
	not bool // bitwise not instead of minus
}

func (n negNode) eval(s *scanState) (int64, bool) {
	v, ok := n.x.eval(s)
	if !ok {
		return 0, false
	}
	if n.not {
		return ^v, true
	}
	return -v, true
}
func (n negNode) cost(s *scanState) int { return n.x.cost(s) }

// --- compiling conditions

func (rc *ruleCompiler) enter() error {
	rc.depth++
	if rc.depth > maxCondDepth {
		return rc.errf(0, "", false, "condition nested deeper than %d", maxCondDepth)
	}
	return nil
}

func (rc *ruleCompiler) boolExpr(e ast.Expression) (boolNode, error) {
	if err := rc.enter(); err != nil {
		return nil, err
	}
	defer func() { rc.depth-- }()
	switch e := e.(type) {
	case ast.Keyword:
		switch e {
		case ast.KeywordTrue:
			return constBool(true), nil
		case ast.KeywordFalse:
			return constBool(false), nil
		}
	case *ast.Group:
		return rc.boolExpr(e.Expression)
	case *ast.Not:
		x, err := rc.boolExpr(e.Expression)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case *ast.Operation:
		switch e.Operator {
		case ast.OpAnd, ast.OpOr:
			ops := make([]boolNode, 0, len(e.Operands))
			for _, o := range e.Operands {
				x, err := rc.boolExpr(o)
				if err != nil {
					return nil, err
				}
				ops = append(ops, x)
			}
			// and/or have no side effects, so the scan may evaluate the
			// operands in any order (see freeFirst).
			if e.Operator == ast.OpAnd {
				return andNode(ops), nil
			}
			return orNode(ops), nil
		case ast.OpEqual, ast.OpNotEqual, ast.OpLessThan, ast.OpLessOrEqual, ast.OpGreaterThan, ast.OpGreaterOrEqual:
			if len(e.Operands) != 2 {
				break
			}
			a, err := rc.intExpr(e.Operands[0])
			if err != nil {
				return nil, err
			}
			b, err := rc.intExpr(e.Operands[1])
			if err != nil {
				return nil, err
			}
			return cmpNode{op: e.Operator, a: a, b: b}, nil
		case ast.OpContains, ast.OpIContains, ast.OpStartsWith, ast.OpIStartsWith, ast.OpEndsWith, ast.OpIEndsWith, ast.OpIEquals, ast.OpMatches:
			return nil, rc.unsupported("the %q operator", string(e.Operator))
		}
	case *ast.StringIdentifier:
		p, err := rc.patRef(e.Identifier)
		if err != nil {
			return nil, err
		}
		n := strNode{pat: p}
		if n.at, n.lo, n.hi, err = rc.atIn(e.At, e.In); err != nil {
			return nil, err
		}
		return n, nil
	case *ast.Of:
		return rc.ofExpr(e)
	case *ast.Identifier:
		return rc.ruleRefExpr(e.Identifier)
	case *ast.ForIn:
		return nil, rc.unsupported("for ... in loops")
	case *ast.ForOf:
		return nil, rc.unsupported("for ... of loops")
	case *ast.Defined:
		return nil, rc.unsupported("the defined operator")
	}
	// Integer expressions are true when non-zero, as in YARA.
	x, err := rc.intExpr(e)
	if err != nil {
		return nil, err
	}
	return intAsBool{x}, nil
}

func (rc *ruleCompiler) intExpr(e ast.Expression) (intNode, error) {
	if err := rc.enter(); err != nil {
		return nil, err
	}
	defer func() { rc.depth-- }()
	switch e := e.(type) {
	case *ast.LiteralInteger:
		return constInt(e.Value), nil
	case ast.Keyword:
		switch e {
		case ast.KeywordFilesize:
			return filesizeNode{}, nil
		case ast.KeywordEntrypoint:
			return nil, rc.unsupported("entrypoint")
		}
		return nil, rc.unsupported("%q where a number is expected", string(e))
	case *ast.Group:
		return rc.intExpr(e.Expression)
	case *ast.Minus:
		x, err := rc.intExpr(e.Expression)
		if err != nil {
			return nil, err
		}
		return negNode{x: x}, nil
	case *ast.BitwiseNot:
		x, err := rc.intExpr(e.Expression)
		if err != nil {
			return nil, err
		}
		return negNode{x: x, not: true}, nil
	case *ast.Operation:
		switch e.Operator {
		case ast.OpAdd, ast.OpSub, ast.OpMul, ast.OpDiv, ast.OpMod, ast.OpBitAnd, ast.OpBitOr, ast.OpBitXor, ast.OpShiftLeft, ast.OpShiftRight:
			if len(e.Operands) < 2 {
				break
			}
			ops := make([]intNode, 0, len(e.Operands))
			for _, o := range e.Operands {
				x, err := rc.intExpr(o)
				if err != nil {
					return nil, err
				}
				ops = append(ops, x)
			}
			return arithNode{op: e.Operator, ops: ops}, nil
		}
		return nil, rc.unsupported("a boolean %q where a number is expected", string(e.Operator))
	case *ast.StringCount:
		p, err := rc.patRef(e.Identifier)
		if err != nil {
			return nil, err
		}
		n := countNode{pat: p}
		if e.In != nil {
			if n.lo, n.hi, err = rc.rangeExpr(e.In); err != nil {
				return nil, err
			}
		}
		return n, nil
	case *ast.StringOffset:
		return rc.offsetExpr(e.Identifier, e.Index, false)
	case *ast.StringLength:
		return rc.offsetExpr(e.Identifier, e.Index, true)
	case *ast.FunctionCall:
		return rc.callExpr(e)
	case *ast.LiteralFloat:
		return nil, rc.unsupported("floating-point numbers")
	case *ast.LiteralString:
		return nil, rc.unsupported("text values in conditions")
	case *ast.LiteralRegexp:
		return nil, rc.unsupported("regular expressions in conditions")
	case *ast.MemberAccess, *ast.Subscripting:
		return nil, rc.unsupported("modules (%s)", exprName(e))
	case *ast.Identifier:
		return nil, rc.unsupported("identifier %q (external variable or module)", e.Identifier)
	case *ast.Percentage:
		return nil, rc.unsupported("a percentage outside \"of\"")
	}
	return nil, rc.unsupported("expression %T", e)
}

func exprName(e ast.Expression) string {
	var b strings.Builder
	// WriteSource of these nodes cannot panic; keep the name short anyway.
	_ = e.WriteSource(&b)
	return capText(b.String(), 40)
}

func (rc *ruleCompiler) callExpr(e *ast.FunctionCall) (intNode, error) {
	id, ok := e.Callable.(*ast.Identifier)
	if !ok || !e.Builtin {
		return nil, rc.unsupported("function calls (%s)", exprName(e.Callable))
	}
	name := id.Identifier
	n := readNode{}
	base := strings.TrimSuffix(name, "be")
	n.big = base != name
	switch base {
	case "uint8":
		n.size = 1
	case "uint16":
		n.size = 2
	case "uint32":
		n.size = 4
	case "int8":
		n.size, n.signed = 1, true
	case "int16":
		n.size, n.signed = 2, true
	case "int32":
		n.size, n.signed = 4, true
	default:
		return nil, rc.unsupported("function %s", name)
	}
	if len(e.Arguments) != 1 {
		return nil, rc.errf(0, "", false, "%s takes one argument", name)
	}
	off, err := rc.intExpr(e.Arguments[0])
	if err != nil {
		return nil, err
	}
	n.off = off
	return n, nil
}

func (rc *ruleCompiler) offsetExpr(id string, index ast.Expression, length bool) (intNode, error) {
	p, err := rc.patRef(id)
	if err != nil {
		return nil, err
	}
	n := offsetNode{pat: p, length: length, index: constInt(1)}
	if index != nil {
		if n.index, err = rc.intExpr(index); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (rc *ruleCompiler) rangeExpr(r *ast.Range) (intNode, intNode, error) {
	lo, err := rc.intExpr(r.Start)
	if err != nil {
		return nil, nil, err
	}
	hi, err := rc.intExpr(r.End)
	if err != nil {
		return nil, nil, err
	}
	return lo, hi, nil
}

func (rc *ruleCompiler) patRef(id string) (int, error) {
	if id == "" {
		return 0, rc.unsupported("anonymous string $ outside a string set (for ... of)")
	}
	p, ok := rc.byID[id]
	if !ok {
		return 0, rc.errf(0, "", false, "undefined string $%s", id)
	}
	rc.used[p] = true
	return p, nil
}

func (rc *ruleCompiler) ofExpr(e *ast.Of) (boolNode, error) {
	n := ofNode{}
	switch q := e.Quantifier.(type) {
	case ast.Keyword:
		switch q {
		case ast.KeywordAll:
			n.quant.kind = quantAll
		case ast.KeywordAny:
			n.quant.kind = quantAny
		case ast.KeywordNone:
			n.quant.kind = quantNone
		default:
			return nil, rc.unsupported("quantifier %q", string(q))
		}
	case *ast.Percentage:
		x, err := rc.intExpr(q.Expression)
		if err != nil {
			return nil, err
		}
		n.quant = quantifier{kind: quantPercent, n: x}
	default:
		x, err := rc.intExpr(q)
		if err != nil {
			return nil, err
		}
		n.quant = quantifier{kind: quantCount, n: x}
	}
	var err error
	switch {
	case e.Strings != nil:
		if n.pats, err = rc.stringSet(e.Strings); err != nil {
			return nil, err
		}
	case e.Rules != nil:
		if n.rules, err = rc.ruleSet(e.Rules); err != nil {
			return nil, err
		}
	default:
		return nil, rc.unsupported("\"of\" over text strings")
	}
	if n.at, n.lo, n.hi, err = rc.atIn(e.At, e.In); err != nil {
		return nil, err
	}
	return n, nil
}

// atIn compiles the optional "at OFFSET" and "in (LO..HI)" of a string
// match or an "of" expression; absent parts stay zero nodes.
func (rc *ruleCompiler) atIn(at ast.Expression, in *ast.Range) (atN, lo, hi intNode, err error) {
	if at != nil {
		if atN, err = rc.intExpr(at); err != nil {
			return atN, lo, hi, err
		}
	}
	if in != nil {
		lo, hi, err = rc.rangeExpr(in)
	}
	return atN, lo, hi, err
}

func (rc *ruleCompiler) stringSet(set ast.Node) ([]int, error) {
	all := func(prefix string) []int {
		var out []int
		for _, p := range rc.r.pats {
			id := strings.TrimPrefix(rc.c.rs.pats[p].id, "$")
			if strings.HasPrefix(id, prefix) {
				out = append(out, p)
				rc.used[p] = true
			}
		}
		return out
	}
	switch s := set.(type) {
	case ast.Keyword:
		if s == ast.KeywordThem {
			if len(rc.r.pats) == 0 {
				return nil, rc.errf(0, "", false, "\"them\" in a rule without strings")
			}
			return all(""), nil
		}
	case *ast.Enum:
		seen := map[int]bool{}
		var out []int
		for _, v := range s.Values {
			si, ok := v.(*ast.StringIdentifier)
			if !ok {
				return nil, rc.errf(0, "", false, "bad string set")
			}
			var ps []int
			if prefix, wild := strings.CutSuffix(si.Identifier, "*"); wild {
				ps = all(prefix)
				if len(ps) == 0 {
					return nil, rc.errf(0, "", false, "no string matches $%s", si.Identifier)
				}
			} else {
				p, err := rc.patRef(si.Identifier)
				if err != nil {
					return nil, err
				}
				ps = []int{p}
			}
			for _, p := range ps {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
		return out, nil
	}
	return nil, rc.errf(0, "", false, "bad string set")
}

func (rc *ruleCompiler) ruleSet(set ast.Node) ([]int, error) {
	en, ok := set.(*ast.Enum)
	if !ok {
		return nil, rc.errf(0, "", false, "bad rule set")
	}
	seen := map[int]bool{}
	var out []int
	for _, v := range en.Values {
		id, ok := v.(*ast.Identifier)
		if !ok {
			return nil, rc.errf(0, "", false, "bad rule set")
		}
		var idx []int
		if prefix, wild := strings.CutSuffix(id.Identifier, "*"); wild {
			for name, i := range rc.c.byName {
				if strings.HasPrefix(name, prefix) {
					idx = append(idx, i)
				}
			}
			sort.Ints(idx)
		} else {
			i, err := rc.lookupRule(id.Identifier)
			if err != nil {
				return nil, err
			}
			idx = []int{i}
		}
		if len(idx) == 0 {
			return nil, rc.errf(0, "", false, "no rule matches %s", id.Identifier)
		}
		for _, i := range idx {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	return out, nil
}

func (rc *ruleCompiler) lookupRule(name string) (int, error) {
	if i, ok := rc.c.byName[name]; ok {
		return i, nil
	}
	if rc.c.skippedNames[name] {
		return 0, rc.unsupported("a reference to skipped rule %s", name)
	}
	return 0, rc.unsupported("identifier %q (external variable or module)", name)
}

func (rc *ruleCompiler) ruleRefExpr(name string) (boolNode, error) {
	i, err := rc.lookupRule(name)
	if err != nil {
		return nil, err
	}
	return ruleRef{rule: i}, nil
}
