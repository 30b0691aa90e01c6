package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWebTokenRevokeAndList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openTest(t, b)
		at := time.Date(2021, 3, 2, 12, 0, 0, 123456789, time.UTC)
		s.now = fixedClock(&at)

		if got, err := s.ListWebTokens(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ListWebTokens on a new store = %v, %v", got, err)
		}
		if n, err := s.CountActiveWebTokens(ctx); n != 0 || err != nil {
			t.Errorf("CountActiveWebTokens = %d, %v", n, err)
		}
		hashA, hashB := strings.Repeat("aa", 32), strings.Repeat("bb", 32)
		a, err := s.AddWebToken(ctx, WebToken{Hash: hashA, Name: "first start"})
		if err != nil {
			t.Fatal(err)
		}
		created := at
		at = at.Add(time.Hour)
		bID, err := s.AddWebToken(ctx, WebToken{Hash: hashB, Name: "analyst\x1b[31m", ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}

		if ok, err := s.WebTokenActive(ctx, a); !ok || err != nil {
			t.Errorf("WebTokenActive(%d) = %v, %v; want true", a, ok, err)
		}
		if ok, err := s.WebTokenActive(ctx, 999); ok || err != nil {
			t.Errorf("WebTokenActive(unknown) = %v, %v; want false, nil", ok, err)
		}
		if tok, err := s.ActiveWebTokenByHash(ctx, hashA); err != nil || tok.ID != a || tok.ReadOnly || tok.Name != "first start" {
			t.Errorf("ActiveWebTokenByHash = %+v, %v", tok, err)
		}
		if _, err := s.ActiveWebTokenByHash(ctx, strings.Repeat("00", 32)); !errors.Is(err, ErrNotFound) {
			t.Errorf("ActiveWebTokenByHash(unknown) = %v; want ErrNotFound", err)
		}

		// Use, then revoke.
		at = at.Add(time.Minute)
		used := at
		if err := s.TouchWebToken(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchWebToken(ctx, 999); err != nil {
			t.Errorf("TouchWebToken(unknown) = %v", err)
		}
		at = at.Add(time.Minute)
		revoked := at
		if err := s.RevokeWebToken(ctx, a); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
		if err := s.RevokeWebToken(ctx, a); err != nil {
			t.Errorf("second revocation = %v; want nil", err)
		}
		if err := s.RevokeWebToken(ctx, 999); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeWebToken(unknown) = %v; want ErrNotFound", err)
		}

		if _, err := s.ActiveWebTokenByHash(ctx, hashA); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoked token by hash: %v; want ErrNotFound", err)
		}
		if ok, err := s.WebTokenActive(ctx, a); ok || err != nil {
			t.Errorf("WebTokenActive(revoked) = %v, %v; want false", ok, err)
		}
		// The revoked token stays in the table (list and history).
		if tok, err := s.webTokenByHash(ctx, hashA, false); err != nil || tok.ID != a {
			t.Errorf("webTokenByHash(revoked, any) = %+v, %v", tok, err)
		}
		if n, _ := s.CountWebTokens(ctx); n != 2 {
			t.Errorf("CountWebTokens = %d; want 2 (revoked tokens count)", n)
		}
		if n, _ := s.CountActiveWebTokens(ctx); n != 1 {
			t.Errorf("CountActiveWebTokens = %d; want 1", n)
		}

		got, err := s.ListWebTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []WebTokenInfo{
			{ID: a, Name: "first start", CreatedAt: b.trunc(created), LastUsedAt: b.trunc(used), RevokedAt: b.trunc(revoked)},
			{ID: bID, Name: "analyst\x1b[31m", ReadOnly: true, CreatedAt: b.trunc(created.Add(time.Hour))},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ListWebTokens (-want +got):\n%s", d)
		}
		if !got[0].Revoked() || got[1].Revoked() {
			t.Errorf("Revoked() = %v, %v", got[0].Revoked(), got[1].Revoked())
		}

		if err := s.RevokeWebToken(ctx, bID); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountActiveWebTokens(ctx); n != 0 {
			t.Errorf("CountActiveWebTokens after revoking all = %d", n)
		}
	})
}
