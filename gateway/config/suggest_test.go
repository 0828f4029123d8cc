package config

import "testing"

// TestUnknownKeyDidYouMean: an unknown key or table names the known one
// nearest to it by edit distance, where one is near, in the same table.
func TestUnknownKeyDidYouMean(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"[http]\nadress = \"127.0.0.1:9883\"\n", `config.toml:2: unknown key "http.adress" (did you mean http.addr?)`},
		{"htp.addr = \"\"\n", `config.toml:1: unknown key "htp.addr" (did you mean http.addr?)`},
		{"htp.adress = \"\"\n", `config.toml:1: unknown key "htp.adress" (did you mean http.addr?)`},
		{"[limits]\nmax_inflite = 3\n", `config.toml:2: unknown key "limits.max_inflite" (did you mean limits.max_inflight?)`},
		{"[ebgine]\n", `config.toml:1: unknown table "ebgine" (did you mean engine?)`},
		{"[logging]\n", `config.toml:1: unknown table "logging" (did you mean log?)`},
		// Nothing near: no guess.
		{"nope = 1\n", `config.toml:1: unknown key "nope"`},
		{"tcp = \":1883\"\n", `config.toml:1: unknown key "tcp"`},
		{"[server]\n", `config.toml:1: unknown table "server"`},
		{"[limits]\nx = 1\n", `config.toml:2: unknown key "limits.x"`},
		{"\"\" = 1\n", `config.toml:1: unknown key ""`},
		{"[engine]\nloops.x = 1\n", `config.toml:2: unknown key "engine.loops.x"`},
	} {
		_, err := Parse([]byte(tc.doc), "config.toml")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.doc, err, tc.want)
		}
	}
}
