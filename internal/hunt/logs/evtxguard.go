package logs

import (
	"encoding/binary"
	"fmt"
)

// The velocidex parser recovers from most corruption, and its panics are
// caught in parseChunk, but some corrupt chunks make it allocate without
// bound, which no recover can stop and which takes the whole hunt down
// (found by FuzzEVTX: two changed bytes in a real chunk):
//
//   - ParseTemplateInstance caps the argument count it reads first, but
//     reads it again after an inline template definition without the cap
//     and appends that many descriptors (up to 2^32);
//   - the array argument types (0x86, 0x8a, 0x95) read to the end of the
//     chunk whatever their length, once per argument;
//   - a record of size 0 is parsed again and again, up to 10,240 times,
//     and each pass expands its template anew.
//
// chunkGuard walks a chunk with the same control flow as the parser
// (www.velocidex.com/golang/evtx evtx.go at the pinned version: Chunk.Parse,
// ParseBinXML, ParseTemplateInstance and the Consume* helpers), building
// nothing, and refuses the chunk when that walk would exceed a work or
// memory budget or reach a point where the parser panics. The budgets are
// orders of magnitude above what a real 64 KiB chunk needs.
type chunkGuard struct {
	buf   []byte
	known map[int]int // template id -> nodes in its body (velocidex keys by int(id))
	work  int
	mem   int
	depth int
	bad   string
}

// Real chunks cost about 220 work units per record, so a full 64 KiB chunk
// of realistic records stays near 100K; velocidex needs about 2 µs per
// unit, so the budget caps a corrupt chunk at about a second.
const (
	guardMaxWork  = 512 << 10 // tokens, arguments, array elements…
	guardMaxMem   = 128 << 20 // estimated bytes the parser would retain
	guardMaxDepth = 64        // nested templates / BinXML arguments
	guardMaxArgs  = 10 * 1024 // the parser's cap on its first read of the count
	guardNodeSize = 128       // rough bytes per parsed node (dicts, templates)
)

// checkChunk returns "" when velocidex may parse buf (one whole chunk), or
// why not.
func checkChunk(buf []byte) string {
	g := &chunkGuard{buf: buf, known: map[int]int{}}
	if len(buf) < evtxChunkSize {
		return "short chunk"
	}
	first := binary.LittleEndian.Uint64(buf[8:])
	last := binary.LittleEndian.Uint64(buf[16:])
	c := &gctx{g: g, off: 0x200}
	results := 0
	for i := first; i <= last && g.bad == ""; i++ {
		start := c.off
		if start+24 > len(buf) || string(buf[start:start+4]) != "\x2a\x2a\x00\x00" {
			break // NewEventRecord fails: the parser stops here
		}
		size := int(binary.LittleEndian.Uint32(buf[start+4:]))
		c.off += 24
		g.parse(c, false)
		results++
		if results > 1024*10 {
			break // "Too many records in chunk"
		}
		c.off = start + size
	}
	return g.bad
}

type gctx struct {
	g   *chunkGuard
	off int
}

func (g *chunkGuard) fail(format string, a ...any) {
	if g.bad == "" {
		g.bad = fmt.Sprintf(format, a...)
	}
}

func (g *chunkGuard) spend(work, mem int) {
	g.work += work
	g.mem += mem
	if g.work > guardMaxWork {
		g.fail("corrupt chunk: parse would not terminate in reasonable time")
	} else if g.mem > guardMaxMem {
		g.fail("corrupt chunk: parse would need %d MB", g.mem>>20)
	}
}

// The Consume* helpers: reads past the end return zero without moving,
// except ConsumeUint8 at exactly the end, which indexes out of range.
func (c *gctx) u8() uint8 {
	switch b := c.g.buf; {
	case c.off > len(b):
		return 0
	case c.off == len(b):
		c.g.fail("corrupt chunk: read past its end")
		return 0
	default:
		c.off++
		return b[c.off-1]
	}
}

func (c *gctx) fixed(n int) uint64 {
	if c.off+n > len(c.g.buf) {
		return 0
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(c.g.buf[c.off+i])
	}
	c.off += n
	return v
}

func (c *gctx) u16() uint16 { return uint16(c.fixed(2)) }
func (c *gctx) u32() uint32 { return uint32(c.fixed(4)) }

func (c *gctx) bytes(n int) {
	if c.off+n <= len(c.g.buf) {
		c.off += n
	}
}

func (c *gctx) prefixedString(nullTerminated bool) {
	n := int(c.u16())
	if nullTerminated {
		n++
	}
	c.bytes(n * 2)
}

// readName mirrors ReadName: a name is inline or a reference elsewhere.
func (c *gctx) readName() {
	ref := int(c.u32())
	if ref != c.off {
		t := &gctx{g: c.g, off: ref + 6}
		t.prefixedString(true)
		return
	}
	c.off += 6
	c.prefixedString(true)
}

// parse mirrors ParseBinXML and returns the nodes it would create.
func (g *chunkGuard) parse(c *gctx, templateContext bool) int {
	g.depth++
	defer func() { g.depth-- }()
	if g.depth > guardMaxDepth {
		g.fail("corrupt chunk: templates nested %d deep", g.depth)
		return 0
	}
	nodes := 0
	for g.bad == "" {
		g.spend(1, guardNodeSize)
		nodes++
		switch tag := c.u8(); tag {
		case 0x00:
			return nodes
		case 0x01, 0x41:
			if templateContext {
				c.off += 2
			}
			c.u32()
			c.readName()
			if tag == 0x41 {
				c.u32()
			}
		case 0x02, 0x03, 0x04:
		case 0x05, 0x45:
			c.u8()
			c.prefixedString(false)
		case 0x06, 0x46:
			c.readName()
		case 0x07, 0x47, 0x08, 0x48, 0x09, 0x49, 0x0A, 0x0B:
		case 0x0C:
			if !g.templateInstance(c) {
				return nodes
			}
		case 0x0D, 0x0E:
			c.u16()
			if c.u8() == 0 {
				c.u8()
			}
		case 0x0F:
			c.off += 3
		default:
			return nodes
		}
	}
	return nodes
}

// templateInstance mirrors ParseTemplateInstance.
func (g *chunkGuard) templateInstance(c *gctx) bool {
	if c.u8() != 0x01 {
		return false
	}
	id := int(c.u32())
	if id == 0 {
		return false
	}
	c.u32() // template definition offset
	n := int(min(c.u32(), guardMaxArgs))
	nodes, known := g.known[id]
	if !known {
		c.off += 16
		bodyLen := int(c.u32())
		g.known[id] = 0 // registered before its body is parsed
		nodes = g.parse(&gctx{g: g, off: c.off}, true)
		g.known[id] = nodes
		c.off += bodyLen
		n = int(c.u32()) // read again, and not capped by the parser
	}
	g.spend(n, n*48) // before allocating: n may be 2^32
	if g.bad != "" {
		return false
	}
	type arg struct {
		n   int
		typ uint16
	}
	args := make([]arg, n)
	for i := range args {
		args[i] = arg{int(c.u16()), c.u16()}
	}
	rest := func() int { return max(0, len(g.buf)-c.off) }
	for _, a := range args {
		if g.bad != "" {
			return false
		}
		switch a.typ {
		case 0x00:
			c.off += a.n
		case 0x04:
			c.u8()
		case 0x06:
			c.u16()
		case 0x07, 0x08, 0x0b, 0x14:
			c.u32()
		case 0x09, 0x0a, 0x0c, 0x11, 0x15:
			c.fixed(8)
		case 0x0d:
			switch a.n {
			case 8, 4, 2:
				c.fixed(a.n)
			case 1:
				c.u8()
			}
		case 0x12: // ConsumeSysTime slices buff[off:off+n] when off+16 fits
			if c.off+16 <= len(g.buf) {
				if c.off+a.n > len(g.buf) {
					g.fail("corrupt chunk: time value past its end")
					return false
				}
				c.off += a.n
			}
		case 0x13: // SID: a string grown by concatenation per sub-authority
			c.u8()
			c.u8()
			c.bytes(6)
			k := max(0, (a.n-8+3)/4)
			for range k {
				c.u32()
			}
			g.spend(k+k*k/16, k*16)
		case 0x21: // nested BinXML, parsed in place, then skipped
			sub := g.parse(&gctx{g: g, off: c.off}, false)
			g.spend(0, sub*guardNodeSize)
			c.off += a.n
		case 0x86: // arrays read to the end of the chunk, not a.n bytes
			g.spend(rest()/2, rest()*2)
			c.off += a.n
		case 0x8a:
			g.spend(rest()/8, rest()*2)
			c.off += a.n
		case 0x95:
			g.spend(rest()/8*16, rest()*8)
			c.off += a.n
		default: // strings, binary, GUIDs and unknown types: a.n bytes
			c.bytes(a.n)
		}
	}
	// Expand copies the template's nodes for every instance.
	g.spend(nodes, nodes*guardNodeSize)
	return true
}
