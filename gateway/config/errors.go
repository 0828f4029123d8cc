package config

import (
	"errors"
	"strconv"
	"strings"

	"edgegw/tune"
)

// FieldError is a validation error for one configuration key, e.g.
// "limits.max_packet_size". Validate returns them; Parse wraps each in an
// *Error that adds the file and the line where the key is set.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Error is one problem in a configuration document. Its Error method reads
//
//	config.toml:12: limits.max_packet_size: must be between 64 and 268435460 bytes, got 1
//	config.toml:7: unknown key "engine.loopz"
//	config.toml:(default): listeners.tcp: no listener configured (...)
//
// The last form is for a key the file does not set, so that its value came from Default().
type Error struct {
	File string // the name given to Parse
	Line int    // 1-based line where the key is set; 0 when the value is the default
	Key  string // dotted key ("limits.max_packet_size"); "" when no key is involved (unknown keys, some syntax errors)
	Msg  string
	Err  error // the underlying *FieldError or *toml.DecodeError, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteByte(':')
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
	} else {
		b.WriteString("(default)")
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error (a *FieldError for validation problems).
func (e *Error) Unwrap() error { return e.Err }

// tuneFieldErrors turns the [tune] section's problems into *FieldError
// values keyed "tune.<key>", so that Parse names their line.
func tuneFieldErrors(err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		var fe *tune.FieldError
		if errors.As(e, &fe) {
			out = append(out, &FieldError{Key: "tune." + fe.Key, Msg: fe.Msg})
		} else {
			out = append(out, e)
		}
	}
	return out
}
