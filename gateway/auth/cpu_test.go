package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// TestBcryptWaitsForCPUTurn: a bcrypt comparison computes only with a CPU
// token (Config.CPU), and an HTTP backend verdict does not queue behind
// bcrypt work: with every token held (as by a bcrypt storm), a password
// CONNECT waits while a backend CONNECT on another worker is answered;
// once a token is free the password one is answered too.
func TestBcryptWaitsForCPUTurn(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"allow": true})
	}))
	defer srv.Close()
	dir := t.TempDir()
	a := newAuth(t, Config{
		PasswordFile: writeFile(t, dir, "passwd", "alice:"+hashOf(t, "pw")+"\n"),
		HTTP:         HTTPConfig{URL: srv.URL},
		CPU:          1,
	})
	if want := runtime.GOMAXPROCS(0) + defaultConcurrency; a.cfg.Workers != want {
		t.Fatalf("workers %d, want %d: an HTTP backend adds http_concurrency workers", a.cfg.Workers, want)
	}
	a.cpu <- struct{}{} // the only turn is taken
	pw, backend := make(chan Result, 1), make(chan Result, 1)
	if err := a.Submit(userReq("alice", "pw"), func(r Result) { pw <- r }); err != nil {
		t.Fatal(err)
	}
	if err := a.Submit(userReq("bob", "token"), func(r Result) { backend <- r }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-backend:
		if r.Cause != CauseHTTP {
			t.Fatalf("backend verdict %v, want http", r.Cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend CONNECT waited behind a password CONNECT with no CPU turn")
	}
	select {
	case r := <-pw:
		t.Fatalf("the password CONNECT was answered (%v) with no CPU turn free", r.Cause)
	case <-time.After(100 * time.Millisecond):
	}
	<-a.cpu
	select {
	case r := <-pw:
		if r.Cause != CausePassword {
			t.Fatalf("password verdict %v", r.Cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the password CONNECT was not answered once a CPU turn was free")
	}
}
