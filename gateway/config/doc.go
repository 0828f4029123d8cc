// Package config owns edgegw's configuration: the structs of every section of
// config.toml, their built-in defaults (Default, equal to the repository's
// config.toml, which a test in package main checks), their validation, the
// strict TOML loader that names the file, line and key of each problem, and
// the values derived from them (the connection cap from the open-file limit,
// the TCP keepalive options). main, tune and the gateway's parts read their
// keys here without importing the data path.
//
// Files:
//   - config.go: Config and its sections, Default, Validate, Duration.
//   - file.go: Parse, the strict loader (unknown keys, wrong types, keys set
//     twice, each reported as an *Error with its line).
//   - suggest.go: the "did you mean" hint for an unknown key.
//   - relay.go: [relay] and its [[relay.upstream]] tables, their defaults
//     (a key left out) and validation (addresses, rules that would loop,
//     the remote prefix).
//   - derived.go: Config.MaxConnections and Config.KeepAlive, the one place
//     each derived value is computed.
//   - errors.go: FieldError (Validate) and Error (Parse).
//
// # Zero values
//
// Unlike the sub-packages' own settings, a zero Config is not valid: its keys
// are the user's file, where a 0 is meaningful ("max_connections = 0" derives
// the cap) or refused with the key's name ("max_packet_size = 0"). Start from
// Default() or Parse. The [tune] section (tune.Config) works at its zero value.
//
// # Concurrency
//
// Everything here is pure: Parse does no I/O, and Default, Validate and the
// derived values only read their receiver. All are safe for concurrent use; a
// Config is a value, read-only once given to the gateway.
//
// # Imports
//
// The standard library, github.com/pelletier/go-toml/v2, edgegw/tune (for
// tune.Config, the [tune] section, and tune.FDCap) and edgegw/mqttcodec
// (topic filter syntax and overlap, for [relay]). It must not import
// package gateway, gnet or any other part of the data path; tune must not
// import it back.
package config
