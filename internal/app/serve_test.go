package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestReplayAndServe: the demo as a newcomer runs it: replay March 2021 into a
// store, start the dashboard, log in with the printed token, read the curve.
func TestReplayAndServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	out, errOut, code := run(t, "", "lab", "--replay", "march-2021", "--db", db)
	if code != ExitOK || !strings.Contains(out, "exsweep serve --db") {
		t.Fatalf("replay: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "", "lab", "--replay", "march-2021", "--db", db); code != ExitUsage {
		t.Errorf("second replay into the same store: exit %d %s", code, errOut)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"exsweep", "serve", "--db", db, "--addr", addr}, strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	var tok string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`[A-Za-z0-9_-]{32,}`).FindString(stdout.String()); m != "" && strings.Contains(stdout.String(), "Dashboard on") {
			tok = m
			break
		}
	}
	if tok == "" {
		t.Fatalf("no token printed:\n%s\n%s", stdout.String(), stderr.String())
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get("http://" + addr + "/api/curve")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Error("the API answered without a token")
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/curve", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "2021-03-22") {
		t.Errorf("curve: %d %.300s", resp.StatusCode, body)
	}
}
