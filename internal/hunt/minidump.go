package hunt

import (
	"encoding/binary"
	"io"
	"time"
	"unicode/utf16"
)

// minidumpInfo is what a MiniDump says about itself.
type minidumpInfo struct {
	image string    // path of the first module: the dumped program ("C:\Windows\System32\lsass.exe")
	taken time.Time // header TimeDateStamp
}

// MiniDump layout (minidumpapiset.h): a 32-byte header (signature "MDMP",
// version, stream count, stream directory RVA, checksum, TimeDateStamp,
// flags), 12-byte directory entries (type, size, RVA), the module list
// stream (type 4: count, then 108-byte MINIDUMP_MODULE entries whose name
// RVA is at offset 20), names as MINIDUMP_STRING (byte length, UTF-16LE).
const (
	mdHeaderSize     = 32
	mdDirEntrySize   = 12
	mdModuleSize     = 108
	mdModuleListType = 4
	mdMaxStreams     = 1024
	mdMaxNameBytes   = 1024
)

// readMinidump reads the dumped program's name and the dump time from a
// MiniDump, with every offset and count bounded by the file size: a hostile
// file yields an empty result, never a panic or a big allocation.
func readMinidump(ra io.ReaderAt, size int64) minidumpInfo {
	var info minidumpInfo
	hdr := make([]byte, mdHeaderSize)
	if n, _ := ra.ReadAt(hdr, 0); n < mdHeaderSize || string(hdr[:4]) != "MDMP" {
		return info
	}
	le := binary.LittleEndian
	streams := le.Uint32(hdr[8:])
	dirRVA := int64(le.Uint32(hdr[12:]))
	if ts := int64(le.Uint32(hdr[20:])); ts > 788918400 && ts < 4102444800 { // 1995 .. 2100
		info.taken = time.Unix(ts, 0).UTC()
	}
	if streams == 0 || streams > mdMaxStreams || dirRVA+int64(streams)*mdDirEntrySize > size {
		return info
	}
	dir := make([]byte, int(streams)*mdDirEntrySize)
	if n, _ := ra.ReadAt(dir, dirRVA); n < len(dir) {
		return info
	}
	for i := 0; i < int(streams); i++ {
		ent := dir[i*mdDirEntrySize:]
		if le.Uint32(ent) != mdModuleListType {
			continue
		}
		rva := int64(le.Uint32(ent[8:]))
		var cnt [4]byte
		if n, _ := ra.ReadAt(cnt[:], rva); n < 4 || le.Uint32(cnt[:]) == 0 {
			return info
		}
		mod := make([]byte, mdModuleSize)
		if rva+4+mdModuleSize > size {
			return info
		}
		if n, _ := ra.ReadAt(mod, rva+4); n < mdModuleSize {
			return info
		}
		info.image = readMDString(ra, int64(le.Uint32(mod[20:])), size)
		return info
	}
	return info
}

func readMDString(ra io.ReaderAt, rva, size int64) string {
	var l [4]byte
	if rva <= 0 || rva+4 > size {
		return ""
	}
	if n, _ := ra.ReadAt(l[:], rva); n < 4 {
		return ""
	}
	n := int64(binary.LittleEndian.Uint32(l[:]))
	if n == 0 || n%2 != 0 || n > mdMaxNameBytes || rva+4+n > size {
		return ""
	}
	b := make([]byte, n)
	if got, _ := ra.ReadAt(b, rva+4); int64(got) < n {
		return ""
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
