package owners

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/oschwald/maxminddb-golang/v2"
	"go4.org/netipx"
)

// MaxMMDBSize caps an in-memory MMDB import (GeoLite2-ASN is about 10 MB).
const MaxMMDBSize = 1 << 30

// mmdbASN is the record layout shared by MaxMind GeoLite2-ASN, DB-IP ASN
// Lite and ip-location-db's ASN MMDBs. The country fields are read when a
// database has them (ipinfo-style "country_code" or a GeoIP2-style
// "country.iso_code").
type mmdbASN struct {
	Number      uint32 `maxminddb:"autonomous_system_number"`
	Org         string `maxminddb:"autonomous_system_organization"`
	CountryCode string `maxminddb:"country_code"`
	Country     struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

// OpenMMDB imports a MaxMind-format ASN database from a file.
func (b *ASNTableBuilder) OpenMMDB(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return b.ReadMMDB(path, data)
}

// ReadMMDB imports a MaxMind-format ASN database held in memory. The
// database is verified first: the file comes from outside, and the
// decoder's guarantees only hold for a verified tree.
func (b *ASNTableBuilder) ReadMMDB(name string, data []byte) (err error) {
	if len(data) > MaxMMDBSize {
		return fmt.Errorf("%s: MMDB larger than %d bytes", name, MaxMMDBSize)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: corrupt MMDB: %v", name, r)
		}
	}()
	db, err := maxminddb.OpenBytes(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer db.Close()
	if err := db.Verify(); err != nil {
		return fmt.Errorf("%s: corrupt MMDB: %w", name, err)
	}
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var rec mmdbASN
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("%s: network %s: %w", name, res.Prefix(), err)
		}
		p := res.Prefix()
		if !p.IsValid() {
			continue
		}
		country := rec.CountryCode
		if country == "" {
			country = rec.Country.ISOCode
		}
		as := AS{Number: rec.Number, Name: cleanName(rec.Org), Country: cleanCountry(country)}
		if err := b.AddRange(p.Masked().Addr(), lastAddr(p), as); err != nil {
			return fmt.Errorf("%s: network %s: %w", name, p, err)
		}
	}
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	return netipx.PrefixLastIP(p)
}
