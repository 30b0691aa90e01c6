package logs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestW3CFixture(t *testing.T) {
	const path = "testdata/inetpub/logs/LogFiles/W3SVC1/u_ex210305.log"
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Coverage().Kind; got != (Kind{Type: TypeW3C}) {
		t.Errorf("kind = %v", got)
	}
	got := drain(t, r, "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip", "cs(User-Agent)", "sc-status")
	want := []recSum{
		{Line: 5, Time: "2021-03-05T03:06:27Z", F: map[string]string{
			"cs-method": "GET", "cs-uri-stem": "/owa/auth/RedirSuiteServerProxy.aspx",
			"cs-uri-query": "&CorrelationID=<empty>;&cafeReqId=cde28fc4-299e-4179-b3e9-de56f5c1d9ee;&encoding=;",
			"s-port":       "443", "cs-username": "", "c-ip": "139.162.202.236",
			"cs(User-Agent)": "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/65.0.2345+Safari/537.36",
			"sc-status":      "200"}},
		{Line: 6, Time: "2021-03-05T03:07:01Z", F: map[string]string{
			"cs-method": "POST", "cs-uri-stem": "/ecp/y.js",
			"cs-uri-query": "&CorrelationID=<empty>;&cafeReqId=8a0c2b1e-0000-4000-8000-000000000001;",
			"s-port":       "443", "cs-username": "", "c-ip": "192.0.2.10", "cs(User-Agent)": "ExchangeServicesClient/0.0.0.0", "sc-status": "200"}},
		// A space inside cs-uri-query: folded back, later fields intact.
		{Line: 8, Time: "2021-03-05T03:07:05Z", F: map[string]string{
			"cs-method": "POST", "cs-uri-stem": "/EWS/Exchange.asmx",
			"cs-uri-query": "SoapAction=GetFolder;Mailbox=a b;&cafeReqId=8a0c2b1e-0000-4000-8000-000000000002;",
			"s-port":       "443", "cs-username": `CONTOSO\svc`, "c-ip": "192.0.2.20", "cs(User-Agent)": "Microsoft+Office/16.0", "sc-status": "200"}},
		// Second header block: other fields, other order, no s-port.
		{Line: 15, Time: "2021-03-05T04:01:02Z", F: map[string]string{
			"cs-method": "POST", "cs-uri-stem": "/owa/auth/Current/themes/resources/logon.css", "cs-uri-query": "",
			"c-ip": "192.0.2.30", "cs(User-Agent)": "DuckDuckBot/1.0;+(+http://duckduckgo.com/duckduckbot.html)", "sc-status": "200"}},
		{Line: 16, Time: "2021-03-05T04:01:03.25Z", F: map[string]string{
			"cs-method": "GET", "cs-uri-stem": "/owa/", "cs-uri-query": "", "c-ip": "192.0.2.31", "cs(User-Agent)": "", "sc-status": "302"}},
		// Short line: returned, missing fields empty, counted as repaired.
		{Line: 18, Time: "2021-03-05T04:01:04Z", F: map[string]string{
			"cs-method": "GET", "cs-uri-stem": "/ecp/", "cs-uri-query": "", "c-ip": "192.0.2.32", "cs(User-Agent)": "curl/7.68.0", "sc-status": "200"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	wantCov := covSum{Lines: 18, Directives: 10, Headers: 2, Records: 6, Malformed: 1, Repaired: 2,
		First: "2021-03-05T03:06:27Z", Last: "2021-03-05T04:01:04Z",
		Issues: []string{"8:field-count", "17:field-count", "18:field-count"}}
	if diff := cmp.Diff(wantCov, summarize(r.Coverage())); diff != "" {
		t.Errorf("coverage (-want +got):\n%s", diff)
	}
	c := r.Coverage()
	if c.Software != "Microsoft Internet Information Services 10.0" || c.Version != "1.0" {
		t.Errorf("directives: %q %q", c.Software, c.Version)
	}
	if got, want := c.Issues[1].String(), path+":17: field-count: 4 of 9 fields, no valid time"; got != want {
		t.Errorf("issue = %q, want %q", got, want)
	}
}

func TestW3CCases(t *testing.T) {
	long := strings.Repeat("x", DefaultMaxLine+10)
	tests := []struct {
		name   string
		in     string
		opts   *Options
		fields []string
		want   []recSum
		cov    covSum
	}{
		{
			name:   "directives in any order, LF only, no final newline",
			in:     "#Fields: date time cs-uri-stem\n#Software: Microsoft Internet Information Services 8.5\n2021-03-05 01:02:03 /a",
			fields: []string{"cs-uri-stem"},
			want:   []recSum{{Line: 3, Time: "2021-03-05T01:02:03Z", F: map[string]string{"cs-uri-stem": "/a"}}},
			cov:    covSum{Lines: 3, Directives: 2, Headers: 1, Records: 1, First: "2021-03-05T01:02:03Z", Last: "2021-03-05T01:02:03Z"},
		},
		{
			name:   "utf-8 BOM and CRLF",
			in:     "\xef\xbb\xbf#Fields: date time c-ip\r\n2021-03-05 01:02:03 192.0.2.1\r\n",
			fields: []string{"c-ip"},
			want:   []recSum{{Line: 2, Time: "2021-03-05T01:02:03Z", F: map[string]string{"c-ip": "192.0.2.1"}}},
			cov:    covSum{Lines: 2, Directives: 1, Headers: 1, Records: 1, First: "2021-03-05T01:02:03Z", Last: "2021-03-05T01:02:03Z"},
		},
		{
			name:   "identical header block repeated after a restart is one field set",
			in:     iisHead + iisField + "2021-03-05 01:00:00 10.0.0.5 GET /owa/ - 443 - 192.0.2.1 UA - 200 0 0 1\n" + iisHead + iisField + "2021-03-05 02:00:00 10.0.0.5 GET /ecp/ - 443 - 192.0.2.1 UA - 200 0 0 1\n",
			fields: []string{"cs-uri-stem"},
			want: []recSum{
				{Line: 5, Time: "2021-03-05T01:00:00Z", F: map[string]string{"cs-uri-stem": "/owa/"}},
				{Line: 10, Time: "2021-03-05T02:00:00Z", F: map[string]string{"cs-uri-stem": "/ecp/"}},
			},
			cov: covSum{Lines: 10, Directives: 8, Headers: 1, Records: 2, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T02:00:00Z"},
		},
		{
			name:   "no date field: date from #Date",
			in:     "#Date: 2021-03-06 00:00:00\n#Fields: time cs-uri-stem\n23:59:59 /x\n",
			fields: []string{"cs-uri-stem"},
			want:   []recSum{{Line: 3, Time: "2021-03-06T23:59:59Z", F: map[string]string{"cs-uri-stem": "/x"}}},
			cov:    covSum{Lines: 3, Directives: 2, Headers: 1, Records: 1, First: "2021-03-06T23:59:59Z", Last: "2021-03-06T23:59:59Z"},
		},
		{
			name:   "data without #Fields read with the 15-field IIS default",
			in:     "2021-03-05 03:06:27 10.0.0.5 POST /ecp/y.js - 443 - 192.0.2.9 python-requests/2.25.1 - 200 0 0 12\n",
			fields: []string{"cs-uri-stem", "cs(User-Agent)", "time-taken"},
			want: []recSum{{Line: 1, Time: "2021-03-05T03:06:27Z", F: map[string]string{
				"cs-uri-stem": "/ecp/y.js", "cs(User-Agent)": "python-requests/2.25.1", "time-taken": "12"}}},
			cov: covSum{Lines: 1, Headers: 1, Records: 1, First: "2021-03-05T03:06:27Z", Last: "2021-03-05T03:06:27Z",
				Issues: []string{"1:assumed-header"}},
		},
		{
			name: "data without #Fields and no default shape is dropped",
			in:   "2021-03-05 03:06:27 only four tokens\n",
			cov:  covSum{Lines: 1, Malformed: 1, Issues: []string{"1:no-header"}},
		},
		{
			name:   "too many tokens without cs-uri-query is dropped",
			in:     "#Fields: date time cs-uri-stem\n2021-03-05 01:02:03 /a b\n2021-03-05 01:02:04 /c\n",
			fields: []string{"cs-uri-stem"},
			want:   []recSum{{Line: 3, Time: "2021-03-05T01:02:04Z", F: map[string]string{"cs-uri-stem": "/c"}}},
			cov: covSum{Lines: 3, Directives: 1, Headers: 1, Records: 1, Malformed: 1, First: "2021-03-05T01:02:04Z", Last: "2021-03-05T01:02:04Z",
				Issues: []string{"2:field-count"}},
		},
		{
			name:   "several spaces in the query, query first",
			in:     "#Fields: cs-uri-query date time sc-status\nq=a  b c 2021-03-05 01:02:03 404\n",
			fields: []string{"cs-uri-query", "sc-status"},
			want:   []recSum{{Line: 2, Time: "2021-03-05T01:02:03Z", F: map[string]string{"cs-uri-query": "q=a  b c", "sc-status": "404"}}},
			cov: covSum{Lines: 2, Directives: 1, Headers: 1, Records: 1, Repaired: 1, First: "2021-03-05T01:02:03Z", Last: "2021-03-05T01:02:03Z",
				Issues: []string{"2:field-count"}},
		},
		{
			name:   "bad time keeps the record, zero time",
			in:     "#Fields: date time cs-uri-stem\n2021-02-30 01:02:03 /feb30\n",
			fields: []string{"cs-uri-stem"},
			want:   []recSum{{Line: 2, F: map[string]string{"cs-uri-stem": "/feb30"}}},
			cov:    covSum{Lines: 2, Directives: 1, Headers: 1, Records: 1, Repaired: 1, Issues: []string{"2:bad-time"}},
		},
		{
			name:   "overlong lines are dropped and counted; reading goes on",
			in:     "#Fields: date time cs-uri-stem\n2021-03-05 01:02:03 /" + long + "\n2021-03-05 01:02:04 /ok\n" + long,
			fields: []string{"cs-uri-stem"},
			want:   []recSum{{Line: 3, Time: "2021-03-05T01:02:04Z", F: map[string]string{"cs-uri-stem": "/ok"}}},
			cov: covSum{Lines: 4, Directives: 1, Headers: 1, Records: 1, Malformed: 2, First: "2021-03-05T01:02:04Z", Last: "2021-03-05T01:02:04Z",
				Issues: []string{"2:overlong-line", "4:overlong-line"}},
		},
		{
			name:   "MaxLine option",
			in:     "#Fields: date time cs-uri-stem\n2021-03-05 01:02:03 /0123456789\n2021-03-05 01:02:04 /ok\n",
			opts:   &Options{MaxLine: 30},
			fields: []string{"cs-uri-stem"},
			want:   []recSum{{Line: 3, Time: "2021-03-05T01:02:04Z", F: map[string]string{"cs-uri-stem": "/ok"}}},
			cov: covSum{Lines: 3, Directives: 1, Headers: 1, Records: 1, Malformed: 1, First: "2021-03-05T01:02:04Z", Last: "2021-03-05T01:02:04Z",
				Issues: []string{"2:overlong-line"}},
		},
		{
			name: "a #Fields line with too many fields is refused",
			in:   "#Fields: " + strings.Repeat("f ", maxHeaderFields+1) + "\n2021-03-05 01:02:03 x\n",
			cov:  covSum{Lines: 2, Directives: 1, Malformed: 2, Issues: []string{"1:bad-header", "2:no-header"}},
		},
		{
			name:   "MaxIssues keeps the counts, drops the examples",
			in:     "#Fields: date time x\nbad\nbad\nbad\n",
			opts:   &Options{MaxIssues: 2},
			fields: []string{"x"},
			cov:    covSum{Lines: 4, Directives: 1, Headers: 1, Malformed: 3, Issues: []string{"2:field-count", "3:field-count"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cov := readString(t, tt.in, w3cKind, tt.opts, tt.fields...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.cov, cov); diff != "" {
				t.Errorf("coverage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestW3CRecordAccessors(t *testing.T) {
	in := iisHead + iisField + "2021-03-05 03:06:27 10.0.0.5 GET /owa/ a=1 443 - 192.0.2.1 Mozilla/5.0+(X11;+Linux+x86_64) - 200 0 0 7\n"
	r := NewReader(strings.NewReader(in), "t.log", w3cKind, nil)
	if !r.Next() {
		t.Fatal("no record")
	}
	rec := r.Record()
	ua := rec.Header.Index("CS(USER-AGENT)") // case-insensitive
	if got := rec.Text(ua); got != "Mozilla/5.0 (X11; Linux x86_64)" {
		t.Errorf("Text(ua) = %q", got)
	}
	if got := string(rec.Lookup("cs(User-Agent)")); got != "Mozilla/5.0+(X11;+Linux+x86_64)" {
		t.Errorf("Lookup(ua) = %q", got)
	}
	if rec.Get(-1) != nil || rec.Get(99) != nil || rec.Lookup("nope") != nil {
		t.Error("out-of-range Get must be nil")
	}
	if rec.NumFields() != 15 || rec.Header.Has("s-port") != true || rec.Header.Has("AnchorMailbox") {
		t.Error("header accessors")
	}
	want := map[string]string{"date": "2021-03-05", "time": "03:06:27", "s-ip": "10.0.0.5", "cs-method": "GET", "cs-uri-stem": "/owa/",
		"cs-uri-query": "a=1", "s-port": "443", "c-ip": "192.0.2.1", "cs(User-Agent)": "Mozilla/5.0+…", "sc-status": "200",
		"sc-substatus": "0", "sc-win32-status": "0", "time-taken": "7"}
	if diff := cmp.Diff(want, rec.Map(12)); diff != "" {
		t.Errorf("Map (-want +got):\n%s", diff)
	}
	if string(rec.Raw) != strings.TrimSuffix(in[len(iisHead)+len(iisField):], "\n") {
		t.Errorf("Raw = %q", rec.Raw)
	}
}
