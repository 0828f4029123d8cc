package auth

import (
	"errors"
	"strconv"
)

// Errors returned by Submit, Reload, New and SetPassword. They never carry a
// password, a token, a hash or the text of a line; match them with errors.Is.
var (
	// ErrQueueFull: Submit found the pool's queue full. The caller refuses
	// the CONNECT with ReasonServerBusy (v5 0x89, v3 0x03). Counted as
	// CauseQueueFull.
	ErrQueueFull = errors.New("auth: verification queue full")
	// ErrClosed: Submit after Close.
	ErrClosed = errors.New("auth: authenticator closed")

	// ErrSyntax: a password file line is not "user:hash" (wrapped in a
	// *LineError that names file and line).
	ErrSyntax = errors.New("expected \"user:bcrypt-hash\"")
	// ErrBadHash: the hash field is not a bcrypt hash.
	ErrBadHash = errors.New("hash is not bcrypt ($2a$, $2b$ or $2y$)")
	// ErrDuplicateUser: a user appears on two lines.
	ErrDuplicateUser = errors.New("user listed twice")
	// ErrBadUser: a user name that cannot be written to a password file
	// (empty, or with ':', whitespace, a control character, or a leading '#').
	ErrBadUser = errors.New("invalid user name")
	// ErrEmptyPassword: SetPassword with an empty password.
	ErrEmptyPassword = errors.New("empty password")

	// ErrKeyFile: a JWT key file holds nothing usable (wrapped with its name).
	ErrKeyFile = errors.New("no HMAC secret or RSA/ECDSA public key")
	// ErrWeakSecret: an HMAC secret shorter than MinHMACSecret bytes.
	ErrWeakSecret = errors.New("HMAC secret shorter than 32 bytes")
)

// LineError is a setup error at one line of a file. Its message names the
// file and the line number, never the line's text (it may hold a hash).
type LineError struct {
	File string
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string {
	return "cannot load " + strconv.Quote(e.File) + ": line " + strconv.Itoa(e.Line) + ": " + e.Err.Error()
}

func (e *LineError) Unwrap() error { return e.Err }
