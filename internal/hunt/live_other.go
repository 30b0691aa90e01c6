//go:build !windows

package hunt

import "errors"

// openLive is only possible on the Windows server itself; elsewhere the
// evidence is a triage copy or a mounted image given as the root.
func openLive() (*liveEnv, error) {
	return nil, errors.New("hunt: live mode runs on the Windows Exchange server itself; on this system give the triage copy or mounted image as the root")
}

// isSharingViolation is a Windows condition.
func isSharingViolation(error) bool { return false }
