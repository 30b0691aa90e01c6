package hunt

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRunTree hunts the tree named by EXSWEEP_HUNT_TREE (written by
// bench/hunt/gen) once per iteration; MB/s counts every file under it. It
// is how bench/hunt profiles the engine:
//
//	go run ./bench/hunt/gen -out /tmp/tree -size 512M
//	EXSWEEP_HUNT_TREE=/tmp/tree go test -run X -bench RunTree -cpuprofile cpu.out ./internal/hunt
func BenchmarkRunTree(b *testing.B) {
	root := os.Getenv("EXSWEEP_HUNT_TREE")
	if root == "" {
		b.Skip("EXSWEEP_HUNT_TREE not set")
	}
	var size int64
	filepath.Walk(root, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			size += info.Size()
		}
		return nil
	})
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), Options{Root: root}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunFixture measures the fixed costs on the small compromised tree
// (discovery, rules compilation is cached, EVTX, report building).
func BenchmarkRunFixture(b *testing.B) {
	root := prepareTree(b, "compromised")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), Options{Root: root}); err != nil {
			b.Fatal(err)
		}
	}
}
