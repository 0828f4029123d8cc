package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEmptyIsDefault(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "[limits]\n[engine]\n"} {
		got, err := Parse([]byte(doc), "config.toml")
		if err != nil {
			t.Fatalf("Parse(%q): %v", doc, err)
		}
		if !reflect.DeepEqual(got, Default()) {
			t.Errorf("Parse(%q) = %+v, want Default()", doc, got)
		}
	}
}

func TestParseOverridesDefaults(t *testing.T) {
	doc := `
# every form of setting a key
listeners.tcp = "127.0.0.1:1884"
http = { addr = "" }

[engine]
loops = 3
reuse_port = false
tick_interval = "250ms"

[limits]
"max_packet_size" = 4096
slow_consumer_policy = 'drop'
`
	got, err := Parse([]byte(doc), "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Listeners.TCP = "127.0.0.1:1884"
	want.HTTP.Addr = ""
	want.Engine.Loops = 3
	want.Engine.ReusePort = false
	want.Engine.TickInterval = Duration(250 * time.Millisecond)
	want.Limits.MaxPacketSize = 4096
	want.Limits.SlowConsumerPolicy = "drop"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestParseErrors checks the exact message of every kind of error: each names
// the file, the line (or "(default)") and the key.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // the whole error text; several errors are joined by "\n"
	}{
		{
			name: "validation/line",
			doc:  "[engine]\nloops = 2\n\n[limits]\n# tiny\nmax_packet_size = 1\n",
			want: "config.toml:6: limits.max_packet_size: must be between 64 and 268435460 bytes, got 1",
		},
		{
			name: "validation/dotted key at root",
			doc:  "log.level = \"loud\"\n",
			want: `config.toml:1: log.level: must be debug, info, warn or error, got "loud"`,
		},
		{
			name: "validation/inline table",
			doc:  "drain = { server_reference = \"x\",\n  timeout = \"0s\" }\n",
			want: "config.toml:2: drain.timeout: must be > 0",
		},
		{
			name: "validation/several in line order",
			doc:  "[router]\nshared_strategy = \"fifo\"\n[engine]\ninbox_size = 1\n[limits]\nmax_inflight = 0\n",
			want: "config.toml:2: router.shared_strategy: must be \"round_robin\", \"random\" or \"sticky\", got \"fifo\"\n" +
				"config.toml:4: engine.inbox_size: must be >= 64, got 1\n" +
				"config.toml:6: limits.max_inflight: must be between 1 and 65535, got 0",
		},
		{
			name: "validation/cross-key",
			doc:  "[listeners]\ntcp = \"\"\nws = \"\"\n",
			want: "config.toml:2: listeners.tcp: no listener configured (set at least one of tcp, ws, tls)",
		},
		{
			name: "validation/http and tls bounds",
			doc:  "[http]\nmax_connections = 0\n[limits]\nmax_tls_handshakes = -1\n",
			want: "config.toml:2: http.max_connections: must be >= 1, got 0\n" +
				"config.toml:4: limits.max_tls_handshakes: must be >= 0, got -1",
		},
		{
			name: "validation/tls needs files",
			doc:  "[listeners]\ntls = \":8883\"\n",
			want: "config.toml:2: listeners.tls: the TLS listener needs tls_cert and tls_key",
		},
		{
			name: "validation/tls client auth and identity",
			doc: "[listeners]\nwss = \":8884\"\ntls_client_auth = \"require\"\n" +
				"tls_username_from = \"email\"\n",
			want: "config.toml:2: listeners.wss: the WSS listener needs tls_cert and tls_key\n" +
				"config.toml:3: listeners.tls_client_auth: \"require\" needs tls_client_ca\n" +
				"config.toml:4: listeners.tls_username_from: want \"\", \"cn\" or \"san\", got \"email\"",
		},
		{
			name: "validation/tls client auth spelling",
			doc:  "[listeners]\ntls_client_auth = \"optional\"\n",
			want: "config.toml:2: listeners.tls_client_auth: want \"none\", \"request\" or \"require\", got \"optional\"",
		},
		{
			name: "validation/tls key exchange",
			doc:  "[listeners]\ntls_key_exchange = [\"X25519\", \"X448\"]\n",
			want: "config.toml:2: listeners.tls_key_exchange: unknown key exchange group \"X448\": want X25519MLKEM768, X25519, P-256, P-384 or P-521",
		},
		{
			name: "validation/tls key exchange empty",
			doc:  "[listeners]\ntls_key_exchange = []\n",
			want: "config.toml:2: listeners.tls_key_exchange: must name at least one group",
		},
		{
			name: "unknown key",
			doc:  "[engine]\nloops = 1\n\n\n\n\nloopz = 2\n",
			want: `config.toml:7: unknown key "engine.loopz" (did you mean engine.loops?)`,
		},
		{
			name: "unknown key/dotted at root",
			doc:  "engine.loopz = 2\n",
			want: `config.toml:1: unknown key "engine.loopz" (did you mean engine.loops?)`,
		},
		{
			name: "unknown key/top level",
			doc:  "verbose = true\n",
			want: `config.toml:1: unknown key "verbose"`,
		},
		{
			name: "unknown key/in inline table",
			doc:  "limits = { max_inflight = 3, max_packet_sizes = 1 }\n",
			want: `config.toml:1: unknown key "limits.max_packet_sizes" (did you mean limits.max_packet_size?)`,
		},
		{
			name: "unknown key/several",
			doc:  "[limits]\nx = 1\nhttp = 2\n",
			want: "config.toml:2: unknown key \"limits.x\"\nconfig.toml:3: unknown key \"limits.http\"",
		},
		{
			name: "unknown key/under a scalar",
			doc:  "engine.loops.x = 1\n",
			want: `config.toml:1: unknown key "engine.loops.x"`,
		},
		{
			name: "unknown table",
			doc:  "[engine]\nloops = 1\n[enginez]\nloops = 2\n",
			want: `config.toml:3: unknown table "enginez" (did you mean engine?)`,
		},
		{
			name: "type/string for integer",
			doc:  "[limits]\nmax_packet_size = \"1MB\"\n",
			want: `config.toml:2: limits.max_packet_size: expected an integer, got "1MB"`,
		},
		{
			name: "type/float for integer",
			doc:  "[engine]\nloops = 1.5\n",
			want: "config.toml:2: engine.loops: expected an integer, got 1.5",
		},
		{
			name: "type/integer for duration",
			doc:  "[limits]\nconnect_timeout = 10\n",
			want: `config.toml:2: limits.connect_timeout: expected a duration string such as "10s", got 10`,
		},
		{
			name: "type/string for bool",
			doc:  "[engine]\nreuse_port = \"yes\"\n",
			want: `config.toml:2: engine.reuse_port: expected a boolean (true or false), got "yes"`,
		},
		{
			name: "type/integer for string",
			doc:  "[listeners]\ntcp = 1883\n",
			want: "config.toml:2: listeners.tcp: expected a string, got 1883",
		},
		{
			name: "type/scalar for table",
			doc:  "limits = 5\n",
			want: "config.toml:1: limits: expected a table, got 5",
		},
		{
			name: "type/table for scalar",
			doc:  "[engine.loops]\n",
			want: "config.toml:1: engine.loops: expected an integer, got a table",
		},
		{
			name: "type/array for integer",
			doc:  "[engine]\nloops = [1, 2]\n",
			want: "config.toml:2: engine.loops: expected an integer, got an array",
		},
		{
			name: "bad duration string",
			doc:  "[engine]\n\ntick_interval = \"10q\"\n",
			want: `config.toml:3: engine.tick_interval: invalid duration "10q" (want e.g. "10s", "500ms")`,
		},
		{
			name: "validation/tcp_keepalive below a second",
			doc:  "[engine]\ntcp_keepalive = \"500ms\"\n",
			want: "config.toml:2: engine.tcp_keepalive: must be 0 (off) or whole seconds between 1s and 32767s, got 500ms",
		},
		{
			name: "validation/socket_send_buffer below 1024",
			doc:  "[engine]\nsocket_recv_buffer = 4096\nsocket_send_buffer = 512\n",
			want: "config.toml:3: engine.socket_send_buffer: must be 0 (kernel default) or between 1024 and 1073741824 bytes, got 512",
		},
		{
			name: "validation/flush_delay above 100ms",
			doc:  "[engine]\nloops = 1\nflush_delay = \"150ms\"\n",
			want: "config.toml:3: engine.flush_delay: must be between 0s and 100ms, got 150ms",
		},
		{
			name: "validation/flush_delay negative",
			doc:  "[engine]\nflush_delay = \"-1ms\"\n",
			want: "config.toml:2: engine.flush_delay: must be between 0s and 100ms, got -1ms",
		},
		{
			name: "integer too large",
			doc:  "[limits]\nmax_connections = 99999999999999999999\n",
			want: "config.toml:2: limits.max_connections: decimal number is too large to fit in a 64-bit signed integer",
		},
		{
			name: "key set twice",
			doc:  "[engine]\nloops = 1\nloops = 2\n",
			want: "config.toml:3: engine.loops: set twice (first on line 2)",
		},
		{
			name: "table defined twice",
			doc:  "[engine]\nloops = 1\n[engine]\n",
			want: `config.toml:3: table "engine" defined twice (first on line 1)`,
		},
		{
			name: "syntax/missing value names the key",
			doc:  "[engine]\nloops = 1\nmax_packets_per_wake =\n",
			want: "config.toml:3: engine.max_packets_per_wake: syntax error: unexpected character U+000A at start of value",
		},
		{
			name: "syntax/unclosed table header",
			doc:  "# c\n[engine\nloops = 1\n",
			want: "config.toml:2: syntax error: expected ']' to close table name",
		},
		{
			name: "syntax/unterminated string",
			doc:  "[log]\nlevel = \"info\n",
			want: "config.toml:2: log.level: syntax error: basic strings cannot have new lines",
		},
		{
			name: "syntax/at end of input",
			doc:  "[log]\nlevel =",
			want: "config.toml:2: log.level: syntax error: expected value, not end of input",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), "config.toml")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("error:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseDefaultLine(t *testing.T) {
	// Validation of a key the file does not set: the value came from Default().
	ix := keyIndex{keys: map[string]int{}, tables: map[string]int{}}
	errs := validationErrors(errors.Join(&FieldError{Key: "drain.timeout", Msg: "must be > 0"}), "edge.toml", ix)
	if got, want := joinSorted(errs).Error(), "edge.toml:(default): drain.timeout: must be > 0"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseErrorValues(t *testing.T) {
	_, err := Parse([]byte("[limits]\nmax_inflight = 0\n[engine]\nloops = -1\n"), "x.toml")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) holds no *Error", err, err)
	}
	if ce.File != "x.toml" || ce.Line != 2 || ce.Key != "limits.max_inflight" {
		t.Errorf("first error = %+v", ce)
	}
	var fe *FieldError
	if !errors.As(ce, &fe) || fe.Key != "limits.max_inflight" {
		t.Errorf("Error does not unwrap to its *FieldError: %v", fe)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("got %d errors, want 2: %v", n, err)
	}
}

func TestParseFileName(t *testing.T) {
	_, err := Parse([]byte("nope = 1\n"), "/etc/edgegw/edge.toml")
	if got, want := err.Error(), `/etc/edgegw/edge.toml:1: unknown key "nope"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSchemaWalk exercises the key walk on shapes Config does not have yet (arrays
// of tables, maps, slices), so that keys added later are checked as well.
func TestSchemaWalk(t *testing.T) {
	type rule struct {
		Topic string `toml:"topic"`
		QoS   int    `toml:"qos"`
	}
	type relay struct {
		Rules   []rule            `toml:"rules"`
		Brokers []string          `toml:"brokers"`
		Matrix  [][]int           `toml:"matrix"`
		Labels  map[string]string `toml:"labels"`
		Wait    Duration          `toml:"wait"`
	}
	type Base struct {
		Level string `toml:"level"`
	}
	type root struct {
		Base        // embedded: its keys are root's
		Relay relay `toml:"relay"`
	}
	doc := "level = 1\n[relay]\nbrokers = [\"a\", 2]\nlabels = { x = \"y\" }\nmatrix = [[1], [2,\n \"x\"]]\n[[relay.rules]]\ntopic = \"t\"\n\n[[relay.rules]]\nqos = \"1\"\nbad = 1\n"
	ix, errs := scanDocument([]byte(doc), "c.toml", reflect.TypeFor[root]())
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		"c.toml:1: level: expected a string, got 1",
		"c.toml:3: relay.brokers[1]: expected a string, got 2",
		`c.toml:6: relay.matrix[1][1]: expected an integer, got "x"`,
		`c.toml:11: relay.rules[1].qos: expected an integer, got "1"`,
		`c.toml:12: unknown key "relay.rules[1].bad"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	if l := ix.lineOf("relay.rules[0].topic"); l != 8 {
		t.Errorf("line of relay.rules[0].topic = %d, want 8", l)
	}
	if l := ix.lineOf("relay"); l != 2 {
		t.Errorf("line of [relay] = %d, want 2", l)
	}
}

// fuzzSchema has the shapes Config may grow (arrays of tables, nested arrays,
// maps, pointers), so that the fuzzer walks them too.
type fuzzSchema struct {
	Config
	Relay struct {
		Rules []struct {
			Topic string   `toml:"topic"`
			Wait  Duration `toml:"wait"`
			Tags  []string `toml:"tags"`
		} `toml:"rules"`
		Matrix [][]int           `toml:"matrix"`
		Labels map[string]string `toml:"labels"`
		Ptr    *Log              `toml:"ptr"`
		Ratio  float64           `toml:"ratio"`
	} `toml:"relay"`
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "[engine]\nloops = 1\n", "limits = { max_packet_size = 100 }\n", "a.b.c = [1, {x = 2}]\n",
		"[[engine]]\n", "[engine\n", "x = \"\"\"\nmulti\n\"\"\"\n", "log.level = 'debug' # c\n",
		"[[relay.rules]]\ntopic = \"a\"\ntags = [\"x\", 1]\n[relay]\nmatrix = [[1], [2, [3]]]\nptr = { level = 1 }\nratio = 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, errs := scanDocument(data, "f.toml", reflect.TypeFor[fuzzSchema]())
		for _, e := range errs {
			if e.File != "f.toml" || e.Line < 0 {
				t.Fatalf("bad error %+v", e)
			}
		}
		cfg, err := Parse(data, "f.toml")
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.toml:") {
					t.Fatalf("error line %q does not start with the file name", line)
				}
			}
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", verr)
		}
	})
}
