package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Authenticator runs the verifier chain on its worker pool. Safe for
// concurrent use; build it with New, stop it with Close.
type Authenticator struct {
	cfg  Config
	cur  atomic.Pointer[credentials]
	http *httpVerifier
	pool *pool
	cpu  chan struct{} // bcrypt turns: Config.CPU tokens
	st   counters
	now  func() time.Time
}

// credentials is what Reload swaps: the password file and JWT keys, loaded
// together. Immutable once published.
type credentials struct {
	passwords *PasswordFile
	keys      *KeySet
}

// New validates cfg, loads the password file and JWT keys, and starts the
// workers. Errors name the file (and line) that failed.
func New(cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := &Authenticator{cfg: cfg, now: time.Now, cpu: make(chan struct{}, cfg.CPU)}
	c, err := a.load()
	if err != nil {
		return nil, err
	}
	a.cur.Store(c)
	a.http = newHTTPVerifier(cfg.HTTP, &a.st, func() time.Time { return a.now() })
	a.pool = newPool(cfg.Workers, cfg.Queue, cfg.CallTimeout, &a.st, a.Verify)
	return a, nil
}

func (a *Authenticator) load() (*credentials, error) {
	c := &credentials{}
	var errs []error
	if a.cfg.PasswordFile != "" {
		p, err := LoadPasswordFile(a.cfg.PasswordFile)
		c.passwords = p
		errs = append(errs, err)
	}
	if len(a.cfg.JWTKeys) > 0 {
		k, err := LoadKeys(a.cfg.JWTKeys)
		c.keys = k
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the password file and the JWT keys again and swaps both in
// at once. If either fails, both previous versions stay in force and the
// error names the file and line; a request in progress finishes with the
// version it started with. A successful Reload also empties the HTTP
// backend's caches, so a revocation at the backend takes effect at the
// next SIGHUP rather than after cache_ttl. Counted in Stats.Reloads /
// ReloadFailures.
func (a *Authenticator) Reload() error {
	c, err := a.load()
	if err != nil {
		a.st.reloadFailures.Add(1)
		return err
	}
	a.cur.Store(c)
	if a.http != nil {
		a.http.pos.clear()
		a.http.neg.clear()
	}
	a.st.reloads.Add(1)
	return nil
}

// Submit queues req for verification and returns at once; it never blocks.
// done runs exactly once, on a worker goroutine, with the verdict (which is
// counted). With the queue full it returns ErrQueueFull and done never
// runs: refuse with ReasonServerBusy. After Close it returns ErrClosed.
// req must not be modified after Submit; done must not be nil.
func (a *Authenticator) Submit(req *Request, done func(Result)) error {
	return a.pool.submit(req, done)
}

// Close stops the pool: later Submits fail with ErrClosed, queued requests
// get a CauseShutdown verdict (0x88), and Close returns when every callback
// has run.
func (a *Authenticator) Close() {
	a.pool.close()
	if a.http != nil {
		a.http.client.CloseIdleConnections()
	}
}

// Stats snapshots the counters.
func (a *Authenticator) Stats() Stats { return a.st.snapshot() }

// Verify runs the chain on the calling goroutine: anonymous, password
// file, JWT, HTTP backend; the first verifier that claims req decides.
// It blocks (bcrypt, HTTP) and does not count: pool workers call it (and
// count); never call it from an event loop. ctx bounds the HTTP call.
func (a *Authenticator) Verify(ctx context.Context, req *Request) Result {
	if !req.HasUsername && !req.HasPassword {
		if a.cfg.AllowAnonymous {
			return resultOf(CauseAnonymous)
		}
		if a.http == nil {
			return resultOf(CauseNoCredentials)
		}
	}
	c := a.cur.Load()
	if r, ok := c.passwords.verify(req, a.cpu); ok {
		return r
	}
	if r, ok := c.keys.verify(req, a.cfg.JWTACLClaim, a.cfg.JWTLeeway, a.now); ok {
		return r
	}
	if r, ok := a.http.verify(ctx, req); ok {
		return r
	}
	if !req.HasUsername {
		return resultOf(CauseNoCredentials)
	}
	c.passwords.equalizeTiming(req.Password, a.cpu)
	return resultOf(CauseUnknownUser)
}
