package hunt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestQuarantine(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(t.TempDir(), "q")
	shell := filepath.Join(root, "inetpub", "wwwroot", "aspnet_client", "x.aspx")
	os.MkdirAll(filepath.Dir(shell), 0o755)
	body := []byte(`<%@ Page Language="Jscript"%><%eval(Request.Item["x"],"unsafe");%>`)
	os.WriteFile(shell, body, 0o644)
	sum := sha256.Sum256(body)
	changed := filepath.Join(root, "inetpub", "wwwroot", "aspnet_client", "y.aspx")
	os.WriteFile(changed, []byte("changed since the hunt"), 0o644)
	r := &Report{Findings: []Finding{
		{ID: "F0001", Grade: GradeBackdoor, Path: "inetpub/wwwroot/aspnet_client/x.aspx", SHA256: hex.EncodeToString(sum[:])},
		{ID: "F0002", Grade: GradeBackdoor, Path: "inetpub/wwwroot/aspnet_client/y.aspx", SHA256: hex.EncodeToString(sum[:])},
		{ID: "F0003", Grade: GradeExploited, Path: "HttpProxy/Ecp/a.log", Line: 3},
	}}
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

	// Dry run: nothing moves, nothing is written.
	plan, err := Quarantine(r, root, dir, true, now)
	if err != nil || len(plan) != 2 {
		t.Fatalf("dry run: %v, %d entries", err, len(plan))
	}
	if _, err := os.Stat(shell); err != nil {
		t.Fatal("dry run moved the file")
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("dry run created the quarantine folder")
	}

	got, err := Quarantine(r, root, dir, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(shell); !os.IsNotExist(err) {
		t.Error("web shell still in the web root")
	}
	stored, err := os.ReadFile(got[0].Stored)
	if err != nil || string(stored) != string(body) {
		t.Errorf("stored copy wrong: %v", err)
	}
	if got[1].Error == "" {
		t.Error("a file whose hash changed since the hunt was moved")
	}
	if _, err := os.Stat(changed); err != nil {
		t.Error("the changed file was not left in place")
	}
	var manifest []QuarantineEntry
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := json.Unmarshal(b, &manifest); err != nil || len(manifest) != 2 || manifest[0].SHA256 != got[0].SHA256 || manifest[0].Original != shell {
		t.Errorf("manifest: %v %+v", err, manifest)
	}
}
