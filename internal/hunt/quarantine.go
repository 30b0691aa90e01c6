package hunt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// QuarantineEntry records one file moved (or to be moved) out of a web root.
type QuarantineEntry struct {
	Finding  string    `json:"finding"`
	Original string    `json:"original_path"`
	Stored   string    `json:"stored_path"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mod_time"`
	MovedAt  time.Time `json:"moved_at,omitzero"`
	DryRun   bool      `json:"dry_run"`
	Error    string    `json:"error,omitempty"`
}

// Quarantine moves the files of backdoor-grade file findings (web shells on
// disk) into dir and writes dir/manifest.json. It never deletes: a file is
// copied, the copy's hash is checked against the original, and only then is
// the original removed; across file systems that is the only safe "move".
// With dryRun nothing is changed and the manifest is printed by the caller.
// root resolves relative finding paths.
func Quarantine(r *Report, root, dir string, dryRun bool, now time.Time) ([]QuarantineEntry, error) {
	var out []QuarantineEntry
	for _, f := range r.Findings {
		if f.Grade != GradeBackdoor || f.SHA256 == "" || f.Line != 0 {
			continue // only whole files found on disk, not log lines
		}
		src := f.Path
		if !filepath.IsAbs(src) && root != "" {
			src = filepath.Join(root, filepath.FromSlash(src))
		}
		e := QuarantineEntry{Finding: f.ID, Original: src, SHA256: f.SHA256, DryRun: dryRun}
		st, err := os.Lstat(src)
		if err != nil {
			e.Error = err.Error()
			out = append(out, e)
			continue
		}
		if !st.Mode().IsRegular() {
			e.Error = "not a regular file; left in place"
			out = append(out, e)
			continue
		}
		e.Size, e.ModTime = st.Size(), st.ModTime().UTC()
		e.Stored = filepath.Join(dir, fmt.Sprintf("%s-%s-%s.quarantined", f.ID, f.SHA256[:12], sanitizeName(filepath.Base(src))))
		if !dryRun {
			if err := moveVerified(src, e.Stored, f.SHA256); err != nil {
				e.Error = err.Error()
			} else {
				e.MovedAt = now.UTC()
			}
		}
		out = append(out, e)
	}
	if dryRun || len(out) == 0 {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return out, err
	}
	manifest := filepath.Join(dir, "manifest.json")
	var prev []QuarantineEntry
	if b, err := os.ReadFile(manifest); err == nil {
		_ = json.Unmarshal(b, &prev) // a damaged manifest is kept beside, not lost
		if prev == nil {
			_ = os.Rename(manifest, manifest+".damaged-"+now.UTC().Format("20060102T150405"))
		}
	}
	b, err := json.MarshalIndent(append(prev, out...), "", "  ")
	if err != nil {
		return out, err
	}
	tmp := manifest + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return out, err
	}
	return out, os.Rename(tmp, manifest)
}

// moveVerified copies src to dst (never overwriting), checks the copy's hash and
// then removes src. The expected hash guards against the file having changed
// since the hunt looked at it.
func moveVerified(src, dst, want string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		os.Remove(dst)
		return errors.New("file changed since the hunt (hash " + got[:12] + "…); left in place")
	}
	in.Close()
	return os.Remove(src)
}

func sanitizeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, s)
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
