package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTP backend wire format. One POST per uncached CONNECT to HTTPConfig.URL,
// Content-Type application/json:
//
//	{"client_id":"...","username":"...","password":"...","ip":"192.0.2.1",
//	 "listener":"tcp","tls_cn":"...","tls_sans":["..."]}
//
// Answers:
//
//	200 {"allow":true,"acl":["user alice allow publish devices/%u/#"]}  allow (acl optional)
//	200 {"allow":false}                                                   refuse 0x86
//	401                                                                    refuse 0x86
//	403                                                                    refuse 0x87
//
// Allows are cached for CacheTTL, refusals for NegativeTTL, both bounded in
// entries and keyed by a hash of the whole request (password included).
// Anything else is a backend failure, refused 0x88 (v3 0x03) and never
// cached: a timeout (HTTPConfig.Timeout, or the request's deadline), any
// other status (redirects are not followed, so credentials never go
// elsewhere), a 200 whose body is not that JSON object (at most 64 KiB),
// or a failed connection. Calls in flight are bounded by Concurrency; a
// request that finds no slot before its deadline is refused 0x89.

const maxHTTPBody = 64 << 10

type httpVerifier struct {
	url      string
	timeout  time.Duration
	client   *http.Client
	sem      chan struct{}
	pos, neg *cache
	st       *counters
	now      func() time.Time
}

func newHTTPVerifier(c HTTPConfig, st *counters, now func() time.Time) *httpVerifier {
	if c.URL == "" {
		return nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = c.Concurrency
	tr.MaxConnsPerHost = c.Concurrency
	return &httpVerifier{
		url:     c.URL,
		timeout: c.Timeout,
		client: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		sem: make(chan struct{}, c.Concurrency),
		pos: newCache(c.CacheTTL, c.CacheSize),
		neg: newCache(c.NegativeTTL, c.NegativeSize),
		st:  st,
		now: now,
	}
}

type httpBody struct {
	ClientID string   `json:"client_id"`
	Username string   `json:"username"`
	Password string   `json:"password"`
	IP       string   `json:"ip"`
	Listener string   `json:"listener"`
	TLSCN    string   `json:"tls_cn"`
	TLSSANs  []string `json:"tls_sans,omitempty"`
}

type httpAnswer struct {
	Allow *bool    `json:"allow"`
	ACL   []string `json:"acl"`
}

// verify decides every request when the backend is configured. It may
// block up to the deadline: worker goroutines only.
func (h *httpVerifier) verify(ctx context.Context, req *Request) (Result, bool) {
	if h == nil {
		return Result{}, false
	}
	k := keyOf(req)
	now := h.now()
	if r, ok := h.pos.get(k, now); ok {
		h.st.cacheHits.Add(1)
		r.Cause, r.Cached = CauseHTTPCached, true
		return r, true
	}
	if r, ok := h.neg.get(k, now); ok {
		h.st.negativeHits.Add(1)
		r.Cause, r.Cached = CauseHTTPDeniedCache, true
		return r, true
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return resultOf(CauseHTTPBusy), true
	}
	defer func() { <-h.sem }()
	r := h.call(ctx, req)
	switch r.Cause {
	case CauseHTTP:
		h.pos.put(k, r, h.now())
	case CauseHTTPDenied, CauseHTTPForbidden:
		h.neg.put(k, r, h.now())
	}
	return r, true
}

func (h *httpVerifier) call(ctx context.Context, req *Request) Result {
	h.st.httpCalls.Add(1)
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	b := httpBody{
		ClientID: req.ClientID, Username: req.Username, Password: string(req.Password),
		Listener: req.Listener, TLSCN: req.TLSCommonName, TLSSANs: req.TLSSANs,
	}
	if req.RemoteIP.IsValid() {
		b.IP = req.RemoteIP.String()
	}
	body, _ := json.Marshal(&b) // strings and a slice of strings cannot fail
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return resultOf(CauseHTTPError)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(hr)
	if err != nil {
		// Never wrap or log err: *url.Error quotes the URL, and we keep
		// the verdict only.
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return resultOf(CauseHTTPTimeout)
		}
		return resultOf(CauseHTTPError)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHTTPBody))
		_ = resp.Body.Close()
	}()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return resultOf(CauseHTTPDenied)
	case http.StatusForbidden:
		return resultOf(CauseHTTPForbidden)
	default:
		return resultOf(CauseHTTPStatus)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return resultOf(CauseHTTPTimeout)
		}
		return resultOf(CauseHTTPError)
	}
	var a httpAnswer
	if len(data) > maxHTTPBody || jsonUnmarshal(data, &a) != nil || a.Allow == nil {
		return resultOf(CauseHTTPGarbage)
	}
	if !*a.Allow {
		return resultOf(CauseHTTPDenied)
	}
	r := resultOf(CauseHTTP)
	r.ACL = a.ACL
	return r
}

// jsonUnmarshal is json.Unmarshal, which refuses trailing data.
func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
