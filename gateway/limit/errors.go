package limit

import "fmt"

// ConfigError is a [limits] value that Validate refuses. It reads
// `limits.connect_rate: must be a finite number >= 0 (got -1)`.
type ConfigError struct {
	Key string // the key as written in config.toml, e.g. "limits.flapping_window"
	Msg string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Msg) }
