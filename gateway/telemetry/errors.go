package telemetry

import "errors"

// Errors of this package.
var (
	// ErrConfig is wrapped by Config.Validate and NewServer for a field out of
	// range; the message names the field.
	ErrConfig = errors.New("telemetry: invalid config")
)
