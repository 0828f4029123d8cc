package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestAnonymous(t *testing.T) {
	anon := NewRequest("c1", "", false, nil, false, netip.Addr{}, "tcp", "", nil)
	emptyUser := NewRequest("c1", "", true, nil, false, netip.Addr{}, "tcp", "", nil)
	for _, tc := range []struct {
		name  string
		allow bool
		req   *Request
		cause Cause
	}{
		{"allowed", true, anon, CauseAnonymous},
		{"refused", false, anon, CauseNoCredentials},
		{"empty user name is not anonymous", true, emptyUser, CauseUnknownUser},
		{"user name with anonymous on", true, userReq("alice", "x"), CauseUnknownUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuth(t, Config{AllowAnonymous: tc.allow})
			r := verify(a, tc.req)
			if r.Cause != tc.cause || r.Allowed != tc.cause.Allowed() || r.Reason != tc.cause.Reason() {
				t.Fatalf("got %+v, want %v", r, tc.cause)
			}
		})
	}
	if CauseNoCredentials.Reason().V3() != 0x05 || CauseUnknownUser.Reason().V3() != 0x04 {
		t.Fatal("v3 codes")
	}
}

// TestChainOrder: the password file decides before the JWT keys, which
// decide before the HTTP backend; an unclaimed request reaches the backend.
func TestChainOrder(t *testing.T) {
	testKeys(t)
	b := newBackend(t)
	dir := t.TempDir()
	a := newAuth(t, Config{
		PasswordFile: writeFile(t, dir, "pw", "allow:"+hashOf(t, "right")+"\n"),
		JWTKeys:      []string{writeFile(t, dir, "k", string(hmacSecret))},
		HTTP:         HTTPConfig{URL: b.srv.URL},
	})
	if r := verify(a, userReq("allow", "wrong")); r.Cause != CauseBadPassword || b.calls.Load() != 0 {
		t.Fatalf("file user went on: %v calls %d", r.Cause, b.calls.Load())
	}
	tok := sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	if r := verify(a, userReq("deny", tok)); r.Cause != CauseJWT || b.calls.Load() != 0 {
		t.Fatalf("jwt: %v calls %d", r.Cause, b.calls.Load())
	}
	if r := verify(a, userReq("deny", "x.y.z")); r.Cause != CauseJWTMalformed || b.calls.Load() != 0 {
		t.Fatalf("bad jwt went on: %v", r.Cause)
	}
	if r := verify(a, userReq("deny", "plain")); r.Cause != CauseHTTPDenied || b.calls.Load() != 1 {
		t.Fatalf("http: %v calls %d", r.Cause, b.calls.Load())
	}
}

func TestSubmitCountsByCause(t *testing.T) {
	dir := t.TempDir()
	a := newAuth(t, Config{Workers: 2, PasswordFile: writeFile(t, dir, "pw",
		"alice:"+hashOf(t, "a")+"\nbob:!"+hashOf(t, "b")+"\n")})
	var wg sync.WaitGroup
	for _, r := range []*Request{userReq("alice", "a"), userReq("alice", "x"), userReq("bob", "b"), userReq("zed", "z"), userReq("alice", "a")} {
		wg.Add(1)
		if err := a.Submit(r, func(Result) { wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	s := a.Stats()
	if s.Count(CausePassword) != 2 || s.Count(CauseBadPassword) != 1 || s.Count(CauseDisabled) != 1 || s.Count(CauseUnknownUser) != 1 {
		t.Fatalf("stats %v", s.ByCause)
	}
	a.Close()
	if err := a.Submit(userReq("alice", "a"), func(Result) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestReload(t *testing.T) {
	testKeys(t)
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "pw", "alice:"+hashOf(t, "one")+"\n")
	keyFile := writeFile(t, dir, "key", string(hmacSecret))
	a := newAuth(t, Config{PasswordFile: pwFile, JWTKeys: []string{keyFile}})
	newSecret := []byte("a-brand-new-secret-of-32-bytes-or-more")
	exp := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}
	oldTok, newTok := sign(t, jwt.SigningMethodHS256, hmacSecret, exp), sign(t, jwt.SigningMethodHS256, newSecret, exp)
	check := func(stage string, want map[string]Cause) {
		t.Helper()
		for k, c := range want {
			u, p, _ := strings.Cut(k, ":")
			if r := verify(a, userReq(u, p)); r.Cause != c {
				t.Errorf("%s: %s: %v, want %v", stage, u, r.Cause, c)
			}
		}
	}
	check("start", map[string]Cause{"alice:one": CausePassword, "bob:two": CauseUnknownUser,
		"t:" + oldTok: CauseJWT, "t:" + newTok: CauseJWTSignature})

	writeFile(t, dir, "pw", "alice:"+hashOf(t, "one")+"\nbob:"+hashOf(t, "two")+"\n")
	writeFile(t, dir, "key", string(newSecret))
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	check("reloaded", map[string]Cause{"alice:one": CausePassword, "bob:two": CausePassword,
		"t:" + oldTok: CauseJWTSignature, "t:" + newTok: CauseJWT})

	// A broken password file keeps both previous versions, even though the
	// key file changed too.
	writeFile(t, dir, "pw", "alice:"+hashOf(t, "one")+"\nbob:TOPSECRET-two\n")
	writeFile(t, dir, "key", string(hmacSecret))
	err := a.Reload()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || le.File != pwFile || !strings.Contains(err.Error(), pwFile) || strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatalf("reload error %v", err)
	}
	check("kept", map[string]Cause{"bob:two": CausePassword, "t:" + newTok: CauseJWT, "t:" + oldTok: CauseJWTSignature})
	// A missing key file too.
	writeFile(t, dir, "pw", "carol:"+hashOf(t, "three")+"\n")
	os.Remove(keyFile)
	if err := a.Reload(); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Fatalf("missing key: %v", err)
	}
	check("kept again", map[string]Cause{"bob:two": CausePassword, "carol:three": CauseUnknownUser})
	if s := a.Stats(); s.Reloads != 1 || s.ReloadFailures != 2 {
		t.Fatalf("reloads %d failures %d", s.Reloads, s.ReloadFailures)
	}
}

// TestReloadConcurrent: verdicts stay consistent while Reload swaps files
// (run with -race).
func TestReloadConcurrent(t *testing.T) {
	dir := t.TempDir()
	h := hashOf(t, "pw")
	pwFile := writeFile(t, dir, "pw", "alice:"+h+"\n")
	a := newAuth(t, Config{PasswordFile: pwFile, Workers: 2})
	reloading := make(chan struct{})
	go func() {
		defer close(reloading)
		for i := range 50 {
			tmp := writeFile(t, dir, "pw.tmp", fmt.Sprintf("alice:%s\nu%d:%s\n", h, i, h))
			if err := os.Rename(tmp, pwFile); err != nil { // Reload never sees half a file
				t.Error(err)
			}
			if err := a.Reload(); err != nil {
				t.Error(err)
			}
		}
	}()
	for n := 0; ; n++ {
		select {
		case <-reloading:
			if a.Stats().Reloads != 50 || n == 0 {
				t.Fatalf("reloads %d, verifies %d", a.Stats().Reloads, n)
			}
			return
		default:
		}
		if r := verify(a, userReq("alice", "pw")); r.Cause != CausePassword {
			t.Fatalf("during reload: %v", r.Cause)
		}
	}
}

// TestNoSecretInOutput: the password never appears in a formatted Request,
// a Result, Stats or any error this package returns for it.
func TestNoSecretInOutput(t *testing.T) {
	const secret = "S3cr3t-Pa55word-XYZ"
	req := userReq("alice", secret)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		if s := fmt.Sprintf(verb, req); strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Fatalf("%s leaks: %s", verb, s)
		}
		if s := fmt.Sprintf(verb, *req); strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Fatalf("%s of value leaks: %s", verb, s)
		}
	}
	b := newBackend(t)
	dir := t.TempDir()
	a := newAuth(t, Config{HTTP: HTTPConfig{URL: b.srv.URL, Timeout: 100 * time.Millisecond},
		PasswordFile: writeFile(t, dir, "pw", "bob:"+hashOf(t, secret)+"\n")})
	var outs []string
	for _, u := range []string{"allow", "deny", "hang", "garbage", "500", "bob", "u403"} {
		outs = append(outs, fmt.Sprintf("%+v %v", verify(a, userReq(u, secret)), a.Stats()))
	}
	writeFile(t, dir, "pw", "bob:"+secret+"\n")
	outs = append(outs, a.Reload().Error())
	outs = append(outs, SetPassword(dir+"/pw2", "x:y", secret, 4).Error())
	outs = append(outs, SetPassword(dir+"/pw2", "x", secret+strings.Repeat("x", 80), 4).Error())
	_, err := LoadKeys([]string{writeFile(t, dir, "k", secret)})
	outs = append(outs, err.Error())
	for _, o := range outs {
		if strings.Contains(o, secret) {
			t.Fatalf("leak: %s", o)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Workers: -1}, {Queue: -1}, {HTTP: HTTPConfig{URL: "ftp://x"}},
		{HTTP: HTTPConfig{URL: "http://"}}, {HTTP: HTTPConfig{Concurrency: -1}}, {CallTimeout: -1}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	a := newAuth(t, Config{}) // the zero value works and refuses
	if r := verify(a, userReq("alice", "pw")); r.Allowed || r.Cause != CauseUnknownUser {
		t.Fatalf("zero config: %+v", r)
	}
}
