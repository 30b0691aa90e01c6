//go:build windows

package hunt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// liveVolume opens files with every sharing flag, so logs that IIS and
// Exchange keep open for writing can be read while the server runs. It asks
// for read access only and never for exclusive access; a file another
// process holds exclusively (a live .evtx under some configurations) fails
// with a sharing violation, which the report words as such.
type liveVolume struct{}

func (liveVolume) Open(name string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(longPath(name))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_SEQUENTIAL_SCAN, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}

// longPath adds the \\?\ prefix CreateFile needs past MAX_PATH (os.Open
// does this itself; a direct CreateFile does not).
func longPath(name string) string {
	if len(name) < 248 || strings.HasPrefix(name, `\\`) {
		return name
	}
	if abs, err := filepath.Abs(name); err == nil && len(abs) > 2 && abs[1] == ':' {
		return `\\?\` + abs
	}
	return name
}

// openLive reads where Exchange is installed: the registry value
// Test-ProxyLogon uses (HKLM\SOFTWARE\Microsoft\ExchangeServer\v15\Setup
// MsiInstallPath, v14 for Exchange 2010), else the ExchangeInstallPath
// environment variable that Exchange setup defines.
func openLive() (*liveEnv, error) {
	env := &liveEnv{vol: liveVolume{}}
	env.host, _ = os.Hostname()
	sd := os.Getenv("SystemDrive")
	if sd == "" {
		sd = "C:"
	}
	env.systemRoot = sd + `\`
	for _, v := range []string{"v15", "v14"} {
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\ExchangeServer\`+v+`\Setup`,
			registry.QUERY_VALUE|registry.WOW64_64KEY)
		if err != nil {
			continue
		}
		p, _, err := k.GetStringValue("MsiInstallPath")
		k.Close()
		if err == nil && p != "" {
			env.installs = append(env.installs, filepath.Clean(p))
		}
	}
	if len(env.installs) == 0 {
		if p := os.Getenv("ExchangeInstallPath"); p != "" {
			env.installs = append(env.installs, filepath.Clean(p))
		}
	}
	return env, nil
}

// isSharingViolation reports a file held open without read sharing.
func isSharingViolation(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}
