package runtime_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessiongen/sessiongen/internal/testsession"
)

// TestAllocationGuards holds the allocations per request of the A-D scenarios'
// scenarios, above a bare handler in the same harness, at what they are,
// so that a change cannot make them worse unnoticed. Counts, not times.
// Lower them when a change improves them.
func TestAllocationGuards(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts; scripts/test.sh runs this without -race")
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	req := httptest.NewRequest("GET", "/", nil)
	bare := testing.AllocsPerRun(200, func() { h.ServeHTTP(httptest.NewRecorder(), req) })
	flashes := []string{"saved", "done"}
	for _, tc := range []struct {
		name       string
		withCookie bool
		handler    func(*testsession.Visit, int)
		max        float64 // above the bare handler
	}{
		{"A read", true, func(v *testsession.Visit, _ int) { sinkInt = v.UserID(); sinkStr = v.Email() }, 6},
		{"B write", true, func(v *testsession.Visit, i int) { v.SetFlash(flashes[i%2]) }, 8},
		// C's two are the session value and the request copy that
		// http.Request.WithContext makes to carry it. Pooling the session
		// would remove one, and hand a visitor's session to the next
		// request if a handler kept a reference past its return.
		{"C anonymous", false, func(*testsession.Visit, int) {}, 2},
		{"D login", false, func(v *testsession.Visit, _ int) {
			v.SetUserID(42)
			v.SetEmail("ada@example.com")
			v.SetRoles([]string{"admin", "staff"})
		}, 12},
	} {
		serve, done := scenario(t, tc.withCookie, tc.handler)
		i := 0
		got := testing.AllocsPerRun(200, func() { i++; serve(i) }) - bare
		done()
		t.Logf("%s: %.0f allocations per request above a bare handler (%.0f)", tc.name, got, bare)
		if got > tc.max {
			t.Errorf("%s: %.0f allocations per request, the guard is %.0f", tc.name, got, tc.max)
		}
	}
}
