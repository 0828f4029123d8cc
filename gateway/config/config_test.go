package config

import (
	"errors"
	"strings"
	"testing"
)

// TestListenersDistinct: two listeners on one fixed address are refused
// by Validate, naming the key.
func TestListenersDistinct(t *testing.T) {
	cfg := Default()
	cfg.Listeners.WS = cfg.Listeners.TCP
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "listeners.ws") {
		t.Fatalf("Validate: %v", err)
	}
}

// TestDefaultValidates: the built-in defaults pass their own validation.
func TestDefaultValidates(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestParseTuneKeyLine: a problem in the [tune] section (validated by package
// tune) is reported like any other key: prefixed "tune.", on its line, and
// unwrapping to a *FieldError.
func TestParseTuneKeyLine(t *testing.T) {
	_, err := Parse([]byte("[engine]\nloops = 1\n[tune]\napply = \"always\"\n"), "edge.toml")
	want := `edge.toml:4: tune.apply: must be "raise" or "off", got "always"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "tune.apply" {
		t.Errorf("error does not unwrap to a *FieldError for tune.apply: %+v", fe)
	}
}
