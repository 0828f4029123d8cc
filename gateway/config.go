package gateway

import "edgegw/gateway/config"

// Config is the gateway's whole configuration, defined with its parser in
// package gateway/config; the alias keeps New's signature and the data
// path's cfg.Limits.X reads as they were.
type Config = config.Config

// Duration is config.Duration, a TOML duration string such as "10s".
type Duration = config.Duration

// Default returns config.Default(): the built-in defaults, equal to the
// repository's config.toml.
func Default() Config { return config.Default() }
