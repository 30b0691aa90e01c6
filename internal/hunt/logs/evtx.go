package logs

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"www.velocidex.com/golang/evtx"
)

// EVTX layout constants (MS-EVEN6; libevtx documentation).
const (
	evtxHeaderBlock = 0x1000
	evtxChunkSize   = evtx.EVTX_CHUNK_SIZE
	evtxChunkMagic  = evtx.EVTX_CHUNK_HEADER_MAGIC
)

// Event is one Windows event record with the System fields a hunt matches
// on and the event's data flattened to strings.
type Event struct {
	// RecordID is System/EventRecordID, the number Event Viewer shows. In
	// an exported log (wevtutil epl) the record headers are renumbered from
	// 1 but this keeps the source log's number, which is what correlates.
	RecordID    uint64
	TimeCreated time.Time // UTC, microsecond precision
	Channel     string    // "Security", "MSExchange Management", "Microsoft-Windows-Sysmon/Operational"
	Provider    string    // "MSExchange CmdletLogs", "Microsoft-Windows-Security-Auditing"
	Computer    string
	EventID     uint32
	Level       uint8 // 1 critical, 2 error, 3 warning, 4 information (0 in Security)
	// Data holds named values: <Data Name="CommandLine"> in EventData, and
	// the leaf elements of UserData.
	Data map[string]string
	// Params holds unnamed <Data> values in order. Classic providers log
	// this way: for "MSExchange Management" events 1 and 6, Params[0] is the
	// cmdlet and Params[1] its parameters (host.md §3.5).
	Params []string
	// Offset is the file offset of the record's chunk, for issues.
	Offset int64
}

// Get returns the named data value, or "".
func (e *Event) Get(name string) string { return e.Data[name] }

// Param returns unnamed data value i, or "".
func (e *Event) Param(i int) string {
	if i < 0 || i >= len(e.Params) {
		return ""
	}
	return e.Params[i]
}

// Contains reports whether any data value contains s. Without the
// provider's message DLL the rendered message is not available, but its
// insertion strings are: "System.InvalidCastException" in an MSExchange
// Unified Messaging error shows up here.
func (e *Event) Contains(s string) bool {
	for _, v := range e.Params {
		if strings.Contains(v, s) {
			return true
		}
	}
	for _, v := range e.Data {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// EVTXOptions tune an EVTXReader. The zero value is usable.
type EVTXOptions struct {
	// Keep, when set, is called with the System fields filled in (Data and
	// Params still empty); returning false skips the event before its data
	// is flattened, and it is counted in Coverage.Filtered.
	Keep func(*Event) bool
	// MaxValue caps each data value in bytes (default 16 KiB); MaxFields
	// caps the values per event (default 256).
	MaxValue, MaxFields int
	// MaxIssues caps Coverage.Issues (default DefaultMaxIssues).
	MaxIssues int
}

// EVTXReader streams the events of one .evtx file chunk by chunk: memory
// is one 64 KiB chunk and its parsed records, whatever the file size. A
// chunk that does not parse is counted and skipped. Not safe for concurrent
// use.
type EVTXReader struct {
	ra     io.ReaderAt
	closer io.Closer
	size   int64
	opts   EVTXOptions

	next    int64 // offset of the next chunk
	buf     []byte
	recs    []*evtx.EventRecord
	recOff  int64
	i       int
	ev      Event
	err     error
	cov     Coverage
	dataBuf map[string]string
}

// OpenEVTX opens the .evtx file at path. Close the reader when done.
func OpenEVTX(path string, opts *EVTXOptions) (*EVTXReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := NewEVTXReader(f, st.Size(), path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewEVTXReader reads an EVTX file of the given size from ra. It fails only
// when the file header is not an EVTX header.
func NewEVTXReader(ra io.ReaderAt, size int64, path string, opts *EVTXOptions) (*EVTXReader, error) {
	var o EVTXOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxValue <= 0 {
		o.MaxValue = 16 << 10
	}
	if o.MaxFields <= 0 {
		o.MaxFields = 256
	}
	if o.MaxIssues == 0 {
		o.MaxIssues = DefaultMaxIssues
	} else if o.MaxIssues < 0 {
		o.MaxIssues = 0
	}
	r := &EVTXReader{ra: ra, size: size, opts: o, buf: make([]byte, evtxChunkSize)}
	r.cov.Path = path
	r.cov.Kind = Kind{Type: TypeEVTX}
	r.cov.Bytes = size

	var hdr evtx.EVTXHeader
	hb := make([]byte, binary.Size(hdr))
	if _, err := ra.ReadAt(hb, 0); err != nil {
		return nil, fmt.Errorf("%s: evtx header: %w", path, err)
	}
	if err := binary.Read(bytes.NewReader(hb), binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("%s: evtx header: %w", path, err)
	}
	if string(hdr.Magic[:]) != evtx.EVTX_HEADER_MAGIC {
		return nil, fmt.Errorf("%s: not an EVTX file", path)
	}
	if hdr.MajorVersion != 3 {
		r.cov.note(o.MaxIssues, Issue{Offset: 0, Kind: IssueEVTXHeader,
			Detail: fmt.Sprintf("unexpected EVTX version %d.%d; reading anyway", hdr.MajorVersion, hdr.MinorVersion)})
	}
	r.cov.Version = fmt.Sprintf("%d.%d", hdr.MajorVersion, hdr.MinorVersion)
	if hdr.FileFlags&1 != 0 {
		// Normal for a log copied from a running system; the last chunk may
		// be incomplete.
		r.cov.note(o.MaxIssues, Issue{Offset: 0, Kind: IssueEVTXHeader, Detail: "file marked dirty (not closed cleanly)"})
	}
	// The header block is 4096 bytes in every EVTX version; a different
	// value is corruption, and the chunk grid is what matters.
	r.next = evtxHeaderBlock
	return r, nil
}

// Close closes the file opened by OpenEVTX.
func (r *EVTXReader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

// Event returns the current event; valid until the next call to Next.
func (r *EVTXReader) Event() *Event { return &r.ev }

// Err returns the read error that ended the stream early, if any.
func (r *EVTXReader) Err() error { return r.err }

// Coverage returns the accounting so far; complete once Next returned false.
func (r *EVTXReader) Coverage() *Coverage { return &r.cov }

// Next advances to the next event. It returns false at the end of the file
// or on a read error (see Err).
func (r *EVTXReader) Next() bool {
	for {
		for r.i < len(r.recs) {
			rec := r.recs[r.i]
			r.recs[r.i] = nil // let the parsed tree go early
			r.i++
			if r.convert(rec) {
				return true
			}
		}
		if !r.loadChunk() {
			return false
		}
	}
}

// loadChunk reads and parses the next non-empty chunk into r.recs.
func (r *EVTXReader) loadChunk() bool {
	r.recs, r.i = r.recs[:0], 0
	for r.err == nil {
		off := r.next
		if off >= r.size {
			return false
		}
		r.next += evtxChunkSize
		n := min(evtxChunkSize, r.size-off)
		if _, err := r.ra.ReadAt(r.buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			r.err = err
			r.cov.note(r.opts.MaxIssues, Issue{Offset: off, Kind: IssueIO, Detail: err.Error()})
			return false
		}
		if n < evtxChunkSize {
			// A copy cut mid-chunk (taken while the log was written): parse
			// what is there; records past the cut are counted as missing.
			if !bytes.HasPrefix(r.buf[:n], []byte(evtxChunkMagic)) {
				return false
			}
			clear(r.buf[n:])
			r.cov.note(r.opts.MaxIssues, Issue{Offset: off, Kind: IssueChunk, Detail: fmt.Sprintf("truncated chunk (%d of %d bytes)", n, evtxChunkSize)})
		}
		if !bytes.HasPrefix(r.buf, []byte(evtxChunkMagic)) {
			if !allZero(r.buf) {
				r.chunkIssue(off, IssueChunk, "no chunk signature")
			}
			continue // zeroed chunks are preallocated, not yet used
		}
		r.cov.Chunks++
		if why := checkChunk(r.buf); why != "" {
			r.chunkIssue(off, IssueChunk, why)
			continue
		}
		recs, want, err := parseChunk(r.buf)
		if err != nil {
			r.chunkIssue(off, IssueChunk, err.Error())
		}
		recs = r.dropRepeats(recs, off)
		if want > int64(len(recs)) {
			missing := want - int64(len(recs))
			r.cov.Malformed += missing
			r.cov.note(r.opts.MaxIssues, Issue{Offset: off, Kind: IssueEVTXRecord,
				Detail: fmt.Sprintf("%d of %d records in chunk unreadable", missing, want)})
		}
		if len(recs) > 0 {
			r.recs, r.recOff = recs, off
			return true
		}
	}
	return false
}

// dropRepeats removes records whose number does not increase within the
// chunk. A corrupt record size of 0 makes the parser return the same record
// up to 10,240 times, which would reach the checks as duplicate events.
func (r *EVTXReader) dropRepeats(recs []*evtx.EventRecord, off int64) []*evtx.EventRecord {
	out := recs[:0]
	dup := 0
	for _, rec := range recs {
		if len(out) > 0 && rec.Header.RecordID <= out[len(out)-1].Header.RecordID {
			dup++
			continue
		}
		out = append(out, rec)
	}
	if dup > 0 {
		r.cov.note(r.opts.MaxIssues, Issue{Offset: off, Kind: IssueEVTXRecord,
			Detail: fmt.Sprintf("%d repeated records dropped (corrupt record size)", dup)})
	}
	return out
}

func (r *EVTXReader) chunkIssue(off int64, k IssueKind, detail string) {
	r.cov.issue(r.opts.MaxIssues, Issue{Offset: off, Kind: k, Dropped: true, Detail: detail})
}

// parseChunk runs the velocidex parser on one chunk, turning a panic on
// corrupt data into an error. want is the record count the chunk header
// announces (capped), to count records the parser stopped before.
func parseChunk(buf []byte) (recs []*evtx.EventRecord, want int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			recs, err = nil, fmt.Errorf("parser panic: %v", p)
		}
	}()
	ch, err := evtx.NewChunk(bytes.NewReader(buf), 0)
	if err != nil {
		return nil, 0, err
	}
	h := ch.Header
	if h.LastEventRecNumber >= h.FirstEventRecNumber {
		// No more records fit in a chunk than 24-byte record headers.
		want = int64(min(h.LastEventRecNumber-h.FirstEventRecNumber+1, evtxChunkSize/24))
	}
	recs, err = ch.Parse(0)
	return recs, want, err
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// dict is the part of velocidex's ordereddict.Dict used here; an interface
// keeps this package off that module's API.
type dict interface {
	Keys() []string
	Get(string) (interface{}, bool)
}

func dget(v interface{}, key string) interface{} {
	d, ok := v.(dict)
	if !ok || d == nil {
		return nil
	}
	x, _ := d.Get(key)
	return x
}

// convert fills r.ev from a parsed record; false when the record is
// skipped (Keep) or unusable.
func (r *EVTXReader) convert(rec *evtx.EventRecord) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.cov.issue(r.opts.MaxIssues, Issue{Offset: r.recOff, Kind: IssueEVTXRecord, Dropped: true,
				Detail: fmt.Sprintf("record %d: %v", rec.Header.RecordID, p)})
			ok = false
		}
	}()
	ev := dget(rec.Event, "Event")
	sys := dget(ev, "System")
	if sys == nil {
		r.cov.issue(r.opts.MaxIssues, Issue{Offset: r.recOff, Kind: IssueEVTXRecord, Dropped: true,
			Detail: fmt.Sprintf("record %d: no System element", rec.Header.RecordID)})
		return false
	}
	max := r.opts.MaxValue
	e := &r.ev
	*e = Event{
		RecordID: rec.Header.RecordID,
		Channel:  CapString(asString(dget(sys, "Channel")), max),
		Provider: CapString(asString(dget(dget(sys, "Provider"), "Name")), max),
		Computer: CapString(asString(dget(sys, "Computer")), max),
		Offset:   r.recOff,
	}
	if n, ok := asUint(dget(sys, "EventRecordID")); ok {
		e.RecordID = n
	}
	id := dget(sys, "EventID")
	if v := dget(id, "Value"); v != nil {
		id = v
	}
	if n, ok := asUint(id); ok {
		e.EventID = uint32(n)
	}
	if n, ok := asUint(dget(sys, "Level")); ok {
		e.Level = uint8(n)
	}
	e.TimeCreated = asTime(dget(dget(sys, "TimeCreated"), "SystemTime"))
	r.cov.addTime(e.TimeCreated)
	if r.opts.Keep != nil && !r.opts.Keep(e) {
		r.cov.Filtered++
		return false
	}
	f := flattener{max: max, maxFields: r.opts.MaxFields, data: make(map[string]string)}
	if d, ok := dget(ev, "EventData").(dict); ok {
		for _, k := range d.Keys() {
			v, _ := d.Get(k)
			if k == "Data" {
				f.dataValue(v)
			} else {
				f.named(k, v)
			}
		}
	} else if v := dget(ev, "EventData"); v != nil {
		f.param(v)
	}
	if ud := dget(ev, "UserData"); ud != nil {
		f.leaves(ud, 0)
	}
	e.Data, e.Params = f.data, f.params
	r.cov.Records++
	return true
}

// flattener turns an event's data tree into capped strings.
type flattener struct {
	max, maxFields int
	data           map[string]string
	params         []string
}

func (f *flattener) full() bool { return len(f.data)+len(f.params) >= f.maxFields }

func (f *flattener) named(k string, v interface{}) {
	if f.full() {
		return
	}
	k = CapString(k, maxFieldName)
	if _, dup := f.data[k]; !dup {
		f.data[k] = valueString(v, f.max)
	}
}

func (f *flattener) param(v interface{}) {
	if !f.full() {
		f.params = append(f.params, valueString(v, f.max))
	}
}

// dataValue handles the EventData "Data" key: velocidex already maps named
// <Data Name=…> lists to keys, so what remains here is unnamed values (one
// string, or a list) or a single named element it did not normalise.
func (f *flattener) dataValue(v interface{}) {
	switch x := v.(type) {
	case []string: // a string-list substitution (type 0x81)
		for _, it := range x {
			f.param(it)
		}
	case []interface{}:
		for _, it := range x {
			if name, ok := dget(it, "Name").(string); ok {
				f.named(name, dget(it, "Value"))
			} else {
				f.param(it)
			}
		}
	case dict:
		if name, ok := dget(x, "Name").(string); ok {
			f.named(name, dget(x, "Value"))
		} else {
			f.param(x)
		}
	default:
		f.param(x)
	}
}

// leaves maps UserData's nested elements to their leaf names (first one
// wins), which is how checks name them (SubjectUserName, Param1, …).
func (f *flattener) leaves(v interface{}, depth int) {
	d, ok := v.(dict)
	if !ok || depth > 16 {
		return
	}
	for _, k := range d.Keys() {
		x, _ := d.Get(k)
		if _, isDict := x.(dict); isDict {
			f.leaves(x, depth+1)
		} else {
			f.named(k, x)
		}
	}
}

func asString(v interface{}) string {
	s, _ := v.(string)
	return s
}

func asUint(v interface{}) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	case int:
		return uint64(x), x >= 0
	case string:
		n, err := strconv.ParseUint(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// asTime converts velocidex's TimeCreated: FILETIME becomes float64 unix
// seconds, precise to about 0.2 µs, so it is rounded to microseconds.
func asTime(v interface{}) time.Time {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || x < -1e11 || x > 1e11 {
			return time.Time{}
		}
		sec := math.Floor(x)
		us := int64(math.Round((x - sec) * 1e6))
		return time.Unix(int64(sec), us*1000).UTC()
	case string:
		t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", x)
		if err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// valueString renders one data value, capped at max bytes. Lists are
// joined with newlines, binary is hex (as Event Viewer shows it).
func valueString(v interface{}, max int) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return CapString(x, max)
	case []byte:
		if len(x) > max/2 {
			return strings.ToUpper(hex.EncodeToString(x[:max/2])) + "…"
		}
		return strings.ToUpper(hex.EncodeToString(x))
	case bool:
		return strconv.FormatBool(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []string:
		return joinCapped(len(x), func(i int) string { return x[i] }, "\n", max)
	case []interface{}:
		return joinCapped(len(x), func(i int) string { return valueString(x[i], max) }, "\n", max)
	case []uint16:
		return joinCapped(len(x), func(i int) string { return strconv.FormatUint(uint64(x[i]), 10) }, " ", max)
	case []uint64:
		return joinCapped(len(x), func(i int) string { return strconv.FormatUint(x[i], 10) }, " ", max)
	case dict:
		keys := x.Keys()
		return joinCapped(len(keys), func(i int) string {
			y, _ := x.Get(keys[i])
			return keys[i] + "=" + valueString(y, max)
		}, "; ", max)
	}
	if n, ok := asUint(v); ok {
		return strconv.FormatUint(n, 10)
	}
	switch x := v.(type) {
	case int8, int16, int32, int64, int:
		return fmt.Sprint(x)
	}
	return CapString(fmt.Sprint(v), max)
}

// joinCapped joins n items but stops once max bytes are reached, so a huge
// array in a corrupt record costs at most max bytes of output.
func joinCapped(n int, item func(int) string, sep string, max int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(sep)
		}
		sb.WriteString(item(i))
		if sb.Len() > max {
			return CapString(sb.String(), max)
		}
	}
	return sb.String()
}
