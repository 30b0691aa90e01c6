package hunt

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// prepareTree copies testdata/<name> into a temporary folder, drops the
// .fixture suffix of web shells and applies testdata/<name>.mtimes, and
// returns the copy's path.
func prepareTree(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, strings.TrimSuffix(rel, ".fixture"))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.Create(out)
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	applyMtimes(t, dst, filepath.Join("testdata", name+".mtimes"))
	return dst
}

func applyMtimes(t testing.TB, root, manifest string) {
	t.Helper()
	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	times := map[string]time.Time{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, ts, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: bad line %q", manifest, line)
		}
		tm, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			t.Fatalf("%s: %v", manifest, err)
		}
		times[p] = tm
	}
	def, ok := times["*"]
	if !ok {
		t.Fatalf("%s: no default (*) time", manifest)
	}
	used := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		tm := def
		if x, ok := times[rel]; ok {
			tm, used[rel] = x, true
		}
		return os.Chtimes(p, tm, tm)
	})
	for p := range times {
		if p != "*" && !used[p] {
			t.Fatalf("%s: %s is not in the tree", manifest, p)
		}
	}
}

// snapshot records every file's content hash, size, mode and times, to
// prove a hunt changed nothing.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, err := d.Info()
		if err != nil {
			t.Fatal(err)
		}
		h := ""
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			s := sha256.Sum256(b)
			h = hex.EncodeToString(s[:])
		}
		out[p] = h + " " + info.Mode().String() + " " + info.ModTime().UTC().Format(time.RFC3339Nano)
		return nil
	})
	return out
}

func runTree(t testing.TB, root string, mod func(*Options)) *Report {
	t.Helper()
	o := Options{Root: root, Workers: 2}
	if mod != nil {
		mod(&o)
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
