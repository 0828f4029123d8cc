package listener

import "fmt"

// OpenError is a listener that could not be opened. It reads
// `cannot open listener ":1883": address already in use` and unwraps to the
// cause (errors.Is(err, syscall.EADDRINUSE)).
type OpenError struct {
	Addr string // the configured address, as written
	Err  error
}

func (e *OpenError) Error() string { return fmt.Sprintf("cannot open listener %q: %v", e.Addr, e.Err) }

func (e *OpenError) Unwrap() error { return e.Err }
