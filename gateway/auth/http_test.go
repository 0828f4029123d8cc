package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is an httptest auth backend that answers by user name and counts
// its calls.
type backend struct {
	srv      *httptest.Server
	calls    atomic.Int64
	inflight atomic.Int64
	maxIn    atomic.Int64
	gate     chan struct{} // "slow" waits on it
	mu       sync.Mutex
	last     httpBody
}

func newBackend(t *testing.T) *backend {
	b := &backend{gate: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		n := b.inflight.Add(1)
		defer b.inflight.Add(-1)
		for m := b.maxIn.Load(); n > m && !b.maxIn.CompareAndSwap(m, n); m = b.maxIn.Load() {
		}
		var body httpBody
		data, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(data, &body) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.last = body
		b.mu.Unlock()
		switch body.Username {
		case "allow":
			fmt.Fprint(w, `{"allow":true,"acl":["user %u allow publish devices/%u/#"]}`)
		case "deny":
			fmt.Fprint(w, `{"allow":false}`)
		case "u401":
			w.WriteHeader(http.StatusUnauthorized)
		case "u403":
			w.WriteHeader(http.StatusForbidden)
		case "hang":
			<-r.Context().Done()
		case "slow":
			select {
			case <-b.gate:
			case <-r.Context().Done():
			}
			fmt.Fprint(w, `{"allow":true}`)
		case "garbage":
			fmt.Fprint(w, `<html>oops</html>`)
		case "noallow":
			fmt.Fprint(w, `{"acl":[]}`)
		case "trailing":
			fmt.Fprint(w, `{"allow":true} {"allow":true}`)
		case "huge":
			fmt.Fprintf(w, `{"allow":true,"acl":["%0*d"]}`, maxHTTPBody, 0)
		case "redirect":
			http.Redirect(w, r, "http://192.0.2.1/steal", http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(func() {
		close(b.gate)
		b.srv.Close()
	})
	return b
}

// clock is a settable time source for cache expiry.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func httpAuth(t *testing.T, b *backend, h HTTPConfig) (*Authenticator, *clock) {
	h.URL = b.srv.URL
	a := newAuth(t, Config{HTTP: h})
	c := &clock{}
	c.ns.Store(jwtNow.UnixNano())
	a.now = c.now
	return a, c
}

func TestHTTPVerify(t *testing.T) {
	b := newBackend(t)
	a, _ := httpAuth(t, b, HTTPConfig{Timeout: 300 * time.Millisecond, CacheTTL: -1, NegativeTTL: -1})
	for _, tc := range []struct {
		user  string
		cause Cause
		v5    Reason
		v3    byte
	}{
		{"allow", CauseHTTP, ReasonSuccess, 0},
		{"deny", CauseHTTPDenied, ReasonBadUserNameOrPassword, 0x04},
		{"u401", CauseHTTPDenied, ReasonBadUserNameOrPassword, 0x04},
		{"u403", CauseHTTPForbidden, ReasonNotAuthorized, 0x05},
		{"hang", CauseHTTPTimeout, ReasonServerUnavailable, 0x03},
		{"garbage", CauseHTTPGarbage, ReasonServerUnavailable, 0x03},
		{"noallow", CauseHTTPGarbage, ReasonServerUnavailable, 0x03},
		{"trailing", CauseHTTPGarbage, ReasonServerUnavailable, 0x03},
		{"huge", CauseHTTPGarbage, ReasonServerUnavailable, 0x03},
		{"500", CauseHTTPStatus, ReasonServerUnavailable, 0x03},
		{"redirect", CauseHTTPStatus, ReasonServerUnavailable, 0x03},
	} {
		t.Run(tc.user, func(t *testing.T) {
			start := time.Now()
			r := verify(a, userReq(tc.user, "pw-"+tc.user))
			if r.Cause != tc.cause || r.Reason != tc.v5 || r.Reason.V3() != tc.v3 || r.Cached {
				t.Fatalf("got %+v, want %v", r, tc.cause)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("took %v", el)
			}
			if tc.cause == CauseHTTP && (len(r.ACL) != 1 || r.ACL[0] != "user %u allow publish devices/%u/#") {
				t.Fatalf("acl %q", r.ACL)
			}
		})
	}
	b.mu.Lock()
	last := b.last
	b.mu.Unlock()
	if last.ClientID != "c1" || last.Password != "pw-redirect" || last.IP != "192.0.2.7" || last.Listener != "tcp" {
		t.Fatalf("backend got %+v", last)
	}
	// The request's own deadline also bounds the call.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if r := a.Verify(ctx, userReq("hang", "x")); r.Cause != CauseHTTPTimeout {
		t.Fatalf("ctx deadline: %v", r.Cause)
	}
	// A backend that is down.
	down, _ := httpAuth(t, b, HTTPConfig{})
	down.http.url = "http://127.0.0.1:1/"
	if r := verify(down, userReq("allow", "x")); r.Cause != CauseHTTPError {
		t.Fatalf("down: %v", r.Cause)
	}
}

func TestHTTPCache(t *testing.T) {
	b := newBackend(t)
	a, clk := httpAuth(t, b, HTTPConfig{CacheTTL: time.Minute, NegativeTTL: 5 * time.Second})
	var extra int64 // calls net/http repeated on its own (a retry on a stale keep-alive connection)
	calls := func(want int64) {
		t.Helper()
		if got := b.calls.Load(); got != want+extra {
			t.Fatalf("backend calls %d, want %d", got, want+extra)
		}
	}
	r := verify(a, userReq("allow", "pw"))
	if r.Cause != CauseHTTP || r.Cached {
		t.Fatalf("first: %+v", r)
	}
	r = verify(a, userReq("allow", "pw"))
	if r.Cause != CauseHTTPCached || !r.Cached || !r.Allowed || len(r.ACL) != 1 {
		t.Fatalf("second: %+v", r)
	}
	calls(1)
	// Another password, client ID or IP is another key.
	verify(a, userReq("allow", "pw2"))
	calls(2)
	other := userReq("allow", "pw")
	other.ClientID = "c2"
	verify(a, other)
	calls(3)

	// Negative cache, shorter TTL; 403 keeps its 0x87 from the cache.
	verify(a, userReq("deny", "pw"))
	verify(a, userReq("u403", "pw"))
	r1 := verify(a, userReq("deny", "pw"))
	r2 := verify(a, userReq("u403", "pw"))
	calls(5)
	if r1.Cause != CauseHTTPDeniedCache || r1.Reason != ReasonBadUserNameOrPassword || r2.Reason != ReasonNotAuthorized || r1.Allowed || !r1.Cached {
		t.Fatalf("negative hits: %+v %+v", r1, r2)
	}
	clk.advance(6 * time.Second) // past NegativeTTL, within CacheTTL
	verify(a, userReq("deny", "pw"))
	verify(a, userReq("allow", "pw"))
	calls(6)
	clk.advance(time.Minute) // past CacheTTL
	verify(a, userReq("allow", "pw"))
	calls(7)

	// Failures are never cached.
	verify(a, userReq("500", "pw"))
	verify(a, userReq("500", "pw"))
	verify(a, userReq("garbage", "pw"))
	verify(a, userReq("garbage", "pw"))
	// At least 4 calls: a failure may make net/http retry the POST on a
	// fresh connection, which the backend counts; none is ever cached.
	if got := b.calls.Load(); got < 11 {
		t.Fatalf("backend calls %d, want at least 11: a failure was cached", got)
	} else {
		extra = got - 11
	}
	calls(11)

	// Reload empties both caches.
	verify(a, userReq("allow", "pw"))
	verify(a, userReq("deny", "pw")) // its negative entry expired long ago
	calls(12)
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	verify(a, userReq("allow", "pw"))
	verify(a, userReq("deny", "pw"))
	calls(14)

	s := a.Stats()
	if s.CacheHits != 3 || s.NegativeHits != 2 || s.HTTPCalls != 14 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHTTPNegativeCacheBounded(t *testing.T) {
	b := newBackend(t)
	const size = 8
	a, _ := httpAuth(t, b, HTTPConfig{NegativeSize: size, CacheSize: 4})
	for i := range 100 {
		verify(a, userReq("deny", fmt.Sprint("wrong-", i)))
		if n := a.http.neg.len(); n > size {
			t.Fatalf("negative cache holds %d > %d", n, size)
		}
	}
	if b.calls.Load() != 100 {
		t.Fatalf("calls %d", b.calls.Load())
	}
	// The newest are cached, the oldest evicted.
	verify(a, userReq("deny", "wrong-99"))
	if b.calls.Load() != 100 {
		t.Fatal("newest entry not cached")
	}
	verify(a, userReq("deny", "wrong-0"))
	if b.calls.Load() != 101 {
		t.Fatal("oldest entry not evicted")
	}
	for i := range 20 {
		verify(a, userReq("allow", fmt.Sprint("right-", i)))
	}
	if n := a.http.pos.len(); n != 4 {
		t.Fatalf("positive cache holds %d, want 4", n)
	}
}

func TestHTTPConcurrencyBound(t *testing.T) {
	b := newBackend(t)
	a, _ := httpAuth(t, b, HTTPConfig{Concurrency: 2, CacheTTL: -1})
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = verify(a, userReq("slow", fmt.Sprint(i)))
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.inflight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give a third call the chance to break the bound
	// A request whose deadline passes while waiting for a slot is busy.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	r := a.Verify(ctx, userReq("slow", "late"))
	cancel()
	if r.Cause != CauseHTTPBusy || r.Reason != ReasonServerBusy {
		t.Fatalf("late: %+v", r)
	}
	for range results {
		b.gate <- struct{}{}
	}
	wg.Wait()
	if m := b.maxIn.Load(); m != 2 {
		t.Fatalf("max in flight %d, want 2", m)
	}
	for i, r := range results {
		if r.Cause != CauseHTTP {
			t.Fatalf("%d: %v", i, r.Cause)
		}
	}
}
