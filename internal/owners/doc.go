// Package owners maps an IP address (and, when the scanner recorded one, the
// host name it was reached by) to the organisation that must be told about
// it, and says why.
//
// Three kinds of data feed a [Directory]:
//
//   - A constituency: organisations with contact addresses and the CIDRs,
//     AS numbers and domains they are responsible for, read from YAML or CSV
//     files ([ParseConstituency], [LoadConstituency]). Files are validated as
//     a whole and every problem is reported as "file:line: what".
//   - IP→ASN data: iptoasn.com TSV, ip-location-db CSV or a MaxMind-format
//     ASN database, loaded into one longest-prefix table ([ASNTableBuilder]).
//   - Optionally RIPEstat ([RIPEstatClient]): the abuse-c mailbox that
//     RIPEstat's abuse-contact-finder returns for the address. Off unless
//     configured (it sends the address to RIPE NCC).
//   - Optionally RDAP ([RDAPClient]): the abuse contact that the regional
//     registry publishes for the network. Off unless configured.
//
// # Precedence
//
// [Directory.Lookup] and [Directory.Resolve] apply the rules in this fixed
// order and stop at the first that matches:
//
//  1. constituency prefix — the most specific CIDR containing the address;
//  2. constituency domain — the longest listed domain equal to, or a parent
//     of, the host name;
//  3. constituency ASN — the AS that originates the address in the IP→ASN
//     data;
//  4. RIPEstat abuse contact (Resolve only, when RIPEstat is configured);
//  5. RDAP abuse contact (Resolve only, when RDAP is configured and
//     RIPEstat is not, has no contact for the address or failed);
//  6. no owner: the result still carries the AS, so unowned addresses can be
//     listed per network.
//
// A prefix beats a domain because the constituency's address list says who
// runs the machine, while a domain only says who runs the name (a hosted
// mailbox for example.org on a provider's server is the provider's
// problem). RIPEstat comes before RDAP as CERTs such as DIVD use them:
// one small request with no bootstrap and no entity tree to interpret,
// returning the abuse-c the RIPE database validates; RDAP covers what it
// leaves open. Ties cannot happen at lookup time: the same prefix, domain or AS
// claimed twice is an error when the constituency is loaded, so a result
// never depends on file order.
//
// # File formats
//
// Constituency YAML (testdata/example.yaml):
//
//	organisations:
//	  - name: Example Hosting GmbH
//	    to: [abuse@example.net]        # required; a list or one address
//	    cc: [soc@example.net]
//	    language: de
//	    cidrs: [192.0.2.0/24, 2001:db8:100::/40]
//	    asns: [AS64500]
//	    domains: [example.org]
//
// Constituency CSV (testdata/example.csv): a header row naming the columns
// name,to,cc,language,cidrs,asns,domains (any order; name and to
// required), one row per organisation, list cells separated by spaces, ';'
// or ','; a later row with the same name adds rules to that organisation.
//
// Addresses are checked with net/mail and stored lower-case; CIDRs must
// have no host bits set; AS numbers may be written 64500 or AS64500;
// domains match themselves and every subdomain. Lines are capped at
// MaxConstituencyLine bytes and names at MaxNameBytes.
//
// IP→ASN data: iptoasn TSV (range_start, range_end, AS_number,
// country_code, AS_description; AS 0 = not routed), ip-location-db CSV
// (start,end,asn,org or start,end,asn,country,org, with or without a
// header, addresses as text or numbers) and MaxMind-format MMDB
// (GeoLite2-ASN, DB-IP ASN); gzip is recognised by its magic bytes.
//
// # Concurrency and cost
//
// Everything is immutable after loading. Lookup is safe for concurrent use
// and does not allocate; Resolve may block on the network and allocates only
// when it asks RIPEstat or RDAP. Both clients cache answers ([Cache]) and
// may share one cache: RIPEstat entries are keyed per /24 (IPv4) or /48
// (IPv6) in a key space of their own.
package owners
