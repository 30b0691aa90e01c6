package owners

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The RFC 9083 objects we read. Only the fields used are declared;
// encoding/json ignores the rest.

type rdapEntity struct {
	ObjectClassName string          `json:"objectClassName"`
	Handle          string          `json:"handle"`
	Roles           []string        `json:"roles"`
	VCardArray      json.RawMessage `json:"vcardArray"`
	Entities        []rdapEntity    `json:"entities"`
}

type rdapCidr0 struct {
	V4Prefix string `json:"v4prefix"`
	V6Prefix string `json:"v6prefix"`
	Length   int    `json:"length"`
}

type rdapNetwork struct {
	ObjectClassName string       `json:"objectClassName"`
	Handle          string       `json:"handle"`
	StartAddress    string       `json:"startAddress"`
	EndAddress      string       `json:"endAddress"`
	IPVersion       string       `json:"ipVersion"`
	Name            string       `json:"name"`
	Country         string       `json:"country"`
	Port43          string       `json:"port43"`
	Cidr0           []rdapCidr0  `json:"cidr0_cidrs"`
	Entities        []rdapEntity `json:"entities"`
	ErrorCode       int          `json:"errorCode"`
}

type rdapAutnum struct {
	ObjectClassName string       `json:"objectClassName"`
	Handle          string       `json:"handle"`
	Name            string       `json:"name"`
	Port43          string       `json:"port43"`
	Entities        []rdapEntity `json:"entities"`
	ErrorCode       int          `json:"errorCode"`
}

// decodeRDAP decodes one JSON object and refuses trailing data and RDAP
// error objects served with status 200.
func decodeRDAP(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed RDAP JSON: %w", err)
	}
	if dec.More() {
		return errors.New("malformed RDAP JSON: data after the object")
	}
	var code int
	switch o := v.(type) {
	case *rdapNetwork:
		code = o.ErrorCode
	case *rdapAutnum:
		code = o.ErrorCode
	}
	if code != 0 {
		return fmt.Errorf("RDAP error object (errorCode %d)", code)
	}
	return nil
}

// Bounds for walking hostile entity trees.
const (
	maxEntityDepth   = 8
	maxEntities      = 512
	maxAbuseAddrs    = 8
	maxVCardProperty = 256
)

// abuseEmails walks the entity tree breadth-first (so a top-level abuse
// contact comes before one nested under the registrant) and returns the
// e-mail addresses of every entity with the "abuse" role, validated,
// lower-cased and de-duplicated, plus the first registrant's name. ARIN
// and RIPE both nest the abuse entity under the organisation entity, which
// is why the whole tree is searched.
func abuseEmails(top []rdapEntity) (emails []string, registrant string) {
	type item struct {
		e     *rdapEntity
		depth int
	}
	queue := make([]item, 0, len(top))
	for i := range top {
		queue = append(queue, item{&top[i], 1})
	}
	seen := 0
	for len(queue) > 0 && seen < maxEntities {
		it := queue[0]
		queue = queue[1:]
		seen++
		isAbuse, isRegistrant := false, false
		for _, r := range it.e.Roles {
			switch strings.ToLower(strings.TrimSpace(r)) {
			case "abuse":
				isAbuse = true
			case "registrant":
				isRegistrant = true
			}
		}
		if isAbuse || (isRegistrant && registrant == "") {
			addrs, fn := parseVCard(it.e.VCardArray)
			if isAbuse {
				for _, a := range addrs {
					if len(emails) < maxAbuseAddrs {
						emails = appendUnique(emails, a)
					}
				}
			}
			if isRegistrant && registrant == "" {
				registrant = cleanName(fn)
			}
		}
		if it.depth < maxEntityDepth {
			for i := range it.e.Entities {
				queue = append(queue, item{&it.e.Entities[i], it.depth + 1})
			}
		}
	}
	return emails, registrant
}

// parseVCard reads a jCard (RFC 7095): ["vcard", [[name, params, type,
// value], …]]. It returns the valid e-mail addresses and the "fn"
// (formatted name). Anything unexpected is skipped, not fatal: one odd
// property should not cost us the abuse address next to it.
func parseVCard(raw json.RawMessage) (emails []string, fn string) {
	if len(raw) == 0 {
		return nil, ""
	}
	var top []json.RawMessage
	if json.Unmarshal(raw, &top) != nil || len(top) < 2 {
		return nil, ""
	}
	var kind string
	if json.Unmarshal(top[0], &kind) != nil || !strings.EqualFold(kind, "vcard") {
		return nil, ""
	}
	var props [][]json.RawMessage
	if json.Unmarshal(top[1], &props) != nil {
		return nil, ""
	}
	if len(props) > maxVCardProperty {
		props = props[:maxVCardProperty]
	}
	for _, p := range props {
		if len(p) < 4 {
			continue
		}
		var name, value string
		if json.Unmarshal(p[0], &name) != nil || json.Unmarshal(p[3], &value) != nil {
			continue
		}
		switch strings.ToLower(name) {
		case "email":
			value = strings.TrimSpace(value)
			if len(value) > 7 && strings.EqualFold(value[:7], "mailto:") {
				value = value[7:]
			}
			if a, err := normalizeEmail(value); err == nil {
				emails = appendUnique(emails, a)
			}
		case "fn":
			if fn == "" {
				fn = value
			}
		}
	}
	return emails, fn
}
