package owners

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/gaissmai/bart"
)

// Contact is an RDAP or RIPEstat abuse contact for one network prefix, as
// cached.
type Contact struct {
	Prefix   netip.Prefix `json:"prefix"`
	Registry string       `json:"registry"`         // "RIPE", "ARIN", … or the server's host
	Name     string       `json:"name,omitempty"`   // registrant or network name, cleaned
	Emails   []string     `json:"emails,omitempty"` // empty: the registry has no abuse contact (a negative entry)
	ViaASN   uint32       `json:"via_asn,omitempty"`
	URL      string       `json:"url,omitempty"` // the RDAP or RIPEstat URL that answered
	// Source is "" for RDAP and "ripestat" for RIPEstat answers, whose
	// cache entries live under keys of their own (see ripestatKey).
	Source   string    `json:"source,omitempty"`
	Resource string    `json:"resource,omitempty"` // RIPEstat: the address asked about
	Fetched  time.Time `json:"fetched"`
}

// Cache stores RDAP and RIPEstat contacts per prefix, so one query serves
// every address of a network. Implementations must be safe for concurrent
// use; they decide expiry themselves (MemoryCache uses a TTL, a
// database-backed one can use Fetched).
type Cache interface {
	// Get returns the unexpired contact stored for the most specific prefix
	// that contains p (pass a /32 or /128 for one address).
	Get(ctx context.Context, p netip.Prefix) (Contact, bool, error)
	// Put stores c under c.Prefix, replacing an entry for the same prefix.
	Put(ctx context.Context, c Contact) error
}

// Default TTLs. Abuse contacts change rarely, but a wrong one keeps sending
// reports into the void, so positive entries live a day; "no contact"
// answers are retried sooner.
const (
	DefaultCacheTTL    = 24 * time.Hour
	DefaultNegativeTTL = time.Hour
	defaultCacheSize   = 200_000
)

// MemoryCache is an in-memory Cache with a TTL, bounded in size.
type MemoryCache struct {
	ttl, negTTL time.Duration
	max         int
	now         func() time.Time

	mu sync.Mutex
	t  bart.Table[Contact]
}

// NewMemoryCache returns a cache keeping contacts for ttl and negative
// entries (no abuse address) for negativeTTL; zero values pick the defaults.
func NewMemoryCache(ttl, negativeTTL time.Duration) *MemoryCache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if negativeTTL <= 0 {
		negativeTTL = DefaultNegativeTTL
	}
	return &MemoryCache{ttl: ttl, negTTL: negativeTTL, max: defaultCacheSize, now: time.Now}
}

func (m *MemoryCache) expired(c Contact, now time.Time) bool {
	ttl := m.ttl
	if len(c.Emails) == 0 {
		ttl = m.negTTL
	}
	return now.Sub(c.Fetched) >= ttl
}

// Get implements Cache. An expired more-specific entry does not hide a
// fresh less-specific one.
func (m *MemoryCache) Get(_ context.Context, p netip.Prefix) (Contact, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.t.Supernets(p) {
		if !m.expired(c, now) {
			return c, true, nil
		}
	}
	return Contact{}, false, nil
}

// Put implements Cache. When the cache is full it first drops expired
// entries and, if still full, the new entry: the cache is an optimisation
// and must not grow without bound during a big run.
func (m *MemoryCache) Put(_ context.Context, c Contact) error {
	if !c.Prefix.IsValid() {
		return nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, exists := m.t.Get(c.Prefix); !exists && m.t.Size() >= m.max {
		var stale []netip.Prefix
		for p, old := range m.t.All() {
			if m.expired(old, now) {
				stale = append(stale, p)
			}
		}
		for _, p := range stale {
			m.t.Delete(p)
		}
		if m.t.Size() >= m.max {
			return nil
		}
	}
	m.t.Insert(c.Prefix, c)
	return nil
}

// Len returns the number of entries, expired ones included.
func (m *MemoryCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.Size()
}
