package hunt

import "os"

// volume opens evidence files for reading. Everything outside the live
// Windows code goes through it, so the hunt is tested on Linux over triage
// trees and the Windows specifics (sharing modes, the registry) stay behind
// a build tag.
type volume interface {
	// Open opens a file read-only. Implementations must never create,
	// truncate or lock the file: evidence is read as found.
	Open(name string) (*os.File, error)
}

// osVolume reads a triage copy or mounted image: plain read-only opens.
type osVolume struct{}

func (osVolume) Open(name string) (*os.File, error) { return os.Open(name) }

// liveEnv is what a run on the Exchange server itself learns from Windows.
type liveEnv struct {
	vol        volume
	host       string
	systemRoot string   // "C:\"
	installs   []string // Exchange install paths from the registry or ExchangeInstallPath
}
