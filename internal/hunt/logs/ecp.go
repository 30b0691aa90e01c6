package logs

import "bytes"

// ECPItem returns the value of item "S:<name>=" in an ECP Server/Activity
// log EventData field (S:TIME=13;S:CMD=…;S:URL=…), or nil when absent.
//
// A value ends at the next ";S:", not at the next ';', because the
// interesting values contain semicolons: the ProxyLogon S:CMD value carries
// a script (…eval(Request["klk123456"],"unsafe");}</script>…). The result
// points into data.
func ECPItem(data []byte, name string) []byte {
	var key [64]byte
	k := append(append(append(key[:0], "S:"...), name...), '=')
	for i := 0; i < len(data); {
		j := bytes.Index(data[i:], k)
		if j < 0 {
			return nil
		}
		at := i + j
		if at == 0 || data[at-1] == ';' {
			v := data[at+len(k):]
			if end := bytes.Index(v, []byte(";S:")); end >= 0 {
				v = v[:end]
			}
			return v[:len(v):len(v)]
		}
		i = at + 1
	}
	return nil
}
