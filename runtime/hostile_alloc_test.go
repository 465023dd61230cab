package runtime_test

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

// hostileRecord is a record of Visit under 1 MiB whose field key holds a
// container of n nils (an array32, or a map32 of nil keys and values).
func hostileRecord(key string, isMap bool, n int) []byte {
	b := []byte{0x01, 0xd3}
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().Unix()))
	b = append(b, 0xcf)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = append(b, 0xd3)
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().Unix()))
	b = append(b, 0x81, byte(0xa0|len(key)))
	b = append(b, key...)
	code, nils := byte(0xdd), n
	if isMap {
		code, nils = 0xdf, 2*n
	}
	b = binary.BigEndian.AppendUint32(append(b, code), uint32(n))
	return append(b, strings.Repeat("\xc0", nils)...)
}

// TestHostileRecordsAllocateLittle: a record of at most 1 MiB whose
// containers hold a million nils (each nil a zero element, up to 32 bytes
// of CartItem, or a map sized for half a million entries) costs the
// request a bounded allocation, not a hundred times the record.
func TestHostileRecordsAllocateLittle(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		isMap     bool
		n         int
	}{
		{"cart of nils", "cart", false, 1<<20 - 64},
		{"roles of nils", "roles", false, 1<<20 - 64},
		{"prefs of nil pairs", "prefs", true, 1<<19 - 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := runtime.NewMemoryStore()
			defer mem.Close()
			m, err := testsession.NewVisitManager(runtime.Config{Store: mem, Secrets: [][]byte{secretA}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			id := strings.Repeat("A", 43)
			rec := hostileRecord(tc.key, tc.isMap, tc.n)
			mem.Save(context.Background(), runtime.StoreKey(id), rec, 0, time.Now().Add(time.Hour))
			h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v := testsession.VisitFrom(r.Context())
				_, _, _ = v.Cart(), v.Roles(), v.Prefs()
			}))
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "__Host-session", Value: runtime.SignedCookieValue("__Host-session", secretA, id)})
			var before, after goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&before)
			h.ServeHTTP(httptest.NewRecorder(), req)
			goruntime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: a %d-byte record made the request allocate %.1f MiB", tc.name, len(rec), float64(alloc)/(1<<20))
			// Measured before the bounds: 129.9 MiB for the cart, 40 MiB
			// for the map (sized for half a million entries); now 0, 22 and
			// 0 (a []string of nils is 16 bytes per byte: within the bound).
			if alloc > 32<<20 {
				t.Fatalf("%.1f MiB allocated for a record of 1 MiB, want at most 32", float64(alloc)/(1<<20))
			}
		})
	}
}
