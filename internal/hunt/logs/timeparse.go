package logs

import "time"

// timeParser parses the two timestamp shapes of these logs without
// allocating: ISO 8601 (Exchange: 2023-01-09T19:00:00.130Z) and W3C date +
// time (2021-03-05 03:06:27). Every record is timestamped, also the ones the
// pre-filter skips (coverage needs them), so this is on the hot path; the
// calendar conversion is cached because consecutive lines share the date.
type timeParser struct {
	lastDate [10]byte
	lastDay  int64 // unix seconds of lastDate 00:00 UTC
	haveDate bool
}

func digits2(b []byte) (int, bool) {
	d0, d1 := b[0]-'0', b[1]-'0'
	if d0 > 9 || d1 > 9 {
		return 0, false
	}
	return int(d0)*10 + int(d1), true
}

// day parses "YYYY-MM-DD" and returns unix seconds at midnight UTC.
func (p *timeParser) day(b []byte) (int64, bool) {
	if len(b) != 10 {
		return 0, false
	}
	if p.haveDate && string(b) == string(p.lastDate[:]) {
		return p.lastDay, true
	}
	if b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y1, ok1 := digits2(b[0:2])
	y2, ok2 := digits2(b[2:4])
	mo, ok3 := digits2(b[5:7])
	d, ok4 := digits2(b[8:10])
	if !ok1 || !ok2 || !ok3 || !ok4 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, false
	}
	y := y1*100 + y2
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // 2021-02-30 would silently become March 2nd
		return 0, false
	}
	copy(p.lastDate[:], b)
	p.lastDay = t.Unix()
	p.haveDate = true
	return p.lastDay, true
}

// clock parses "HH:MM:SS[.fffffff]" at the start of b and returns the
// seconds since midnight, nanoseconds and the unparsed rest.
func clock(b []byte) (secs int64, nsec int64, rest []byte, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, nil, false
	}
	h, ok1 := digits2(b[0:2])
	m, ok2 := digits2(b[3:5])
	s, ok3 := digits2(b[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 59 {
		return 0, 0, nil, false
	}
	b = b[8:]
	if len(b) > 0 && (b[0] == '.' || b[0] == ',') {
		b = b[1:]
		scale := int64(100000000)
		n := 0
		for n < len(b) && b[n]-'0' <= 9 {
			if scale > 0 {
				nsec += int64(b[n]-'0') * scale
				scale /= 10
			}
			n++
		}
		if n == 0 {
			return 0, 0, nil, false
		}
		b = b[n:]
	}
	return int64(h)*3600 + int64(m)*60 + int64(s), nsec, b, true
}

// iso parses an ISO 8601 timestamp; no zone means UTC (Exchange always
// writes Z, IIS always logs UTC).
func (p *timeParser) iso(b []byte) (time.Time, bool) {
	if len(b) < 19 || (b[10] != 'T' && b[10] != ' ') {
		return time.Time{}, false
	}
	day, ok := p.day(b[:10])
	if !ok {
		return time.Time{}, false
	}
	secs, nsec, rest, ok := clock(b[11:])
	if !ok {
		return time.Time{}, false
	}
	var off int64
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case rest[0] == '+' || rest[0] == '-':
		z := rest[1:]
		if len(z) == 5 && z[2] == ':' {
			z = []byte{z[0], z[1], z[3], z[4]}
		}
		if len(z) != 4 {
			return time.Time{}, false
		}
		hh, ok1 := digits2(z[0:2])
		mm, ok2 := digits2(z[2:4])
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		off = int64(hh)*3600 + int64(mm)*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	return time.Unix(day+secs-off, nsec).UTC(), true
}

// w3c combines a W3C date ("2021-03-05") and time ("03:06:27").
func (p *timeParser) w3c(date, tm []byte) (time.Time, bool) {
	day, ok := p.day(date)
	if !ok {
		return time.Time{}, false
	}
	secs, nsec, rest, ok := clock(tm)
	if !ok || len(rest) != 0 {
		return time.Time{}, false
	}
	return time.Unix(day+secs, nsec).UTC(), true
}
