package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Parse decodes the TOML document data over Default() and validates the result.
// name is the file name used in error messages. The decoding is strict: unknown keys,
// values of the wrong type (an integer where a duration string such as "10s" is expected
// included) and keys set twice are errors. Every problem is reported as an *Error that
// names the line and the key; several are joined with errors.Join, in line order.
// Parse does no I/O and is safe for concurrent use.
func Parse(data []byte, name string) (Config, error) {
	cfg := Default()
	ix, errs := scanDocument(data, name, reflect.TypeOf(cfg))
	if len(errs) > 0 {
		return Config{}, joinSorted(errs)
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		// The scan above catches what it can with better messages; this is the
		// backstop for what only the decoder sees (a bad duration string, an
		// integer out of range, TOML rules on redefined tables).
		return Config{}, joinSorted(decodeErrors(err, name))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, joinSorted(validationErrors(err, name, ix))
	}
	return cfg, nil
}

// keyIndex records where each dotted key and table header is set in a document.
type keyIndex struct {
	keys   map[string]int // "limits.max_packet_size" -> line
	tables map[string]int // "limits" -> line of its [limits] header
}

// lineOf returns the line that sets key, or 0 when the file does not set it.
// A key that an [[array.table]] element leaves out is placed on that
// element's header line ("relay.upstream[1].name" on the second
// [[relay.upstream]]), an element of an array on the array's key.
func (ix keyIndex) lineOf(key string) int {
	for {
		if l, ok := ix.keys[key]; ok {
			return l
		}
		if l, ok := ix.tables[key]; ok {
			return l
		}
		switch i, j := strings.LastIndexByte(key, '['), strings.LastIndexByte(key, '.'); {
		case strings.HasSuffix(key, "]") && i > j:
			key = key[:i] // "a.list[3]": the line of "a.list"
		case j > 0 && strings.HasSuffix(key[:j], "]"):
			key = key[:j] // "a.table[1].key": the element's header
		default:
			return 0
		}
	}
}

// docScanner walks a document with go-toml's parser, checks every key against the
// Config struct (by `toml` tags) and records where each key is set.
type docScanner struct {
	p      unstable.Parser
	name   string
	ix     keyIndex
	arrays map[string]int // [[array.table]] headers seen so far, by path
	errs   []*Error
}

var (
	durationType        = reflect.TypeFor[Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// scanDocument checks data against the struct type root and indexes its keys.
func scanDocument(data []byte, name string, root reflect.Type) (keyIndex, []*Error) {
	s := &docScanner{
		name:   name,
		ix:     keyIndex{keys: map[string]int{}, tables: map[string]int{}},
		arrays: map[string]int{},
	}
	s.p.Reset(data)
	table, tablePath := root, "" // the current [table]; nil type: unknown, keys under it are not checked
	for s.p.NextExpression() {
		expr := s.p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, line := s.keyParts(expr)
			table, tablePath = s.header(expr.Kind, parts, line, root)
		case unstable.KeyValue:
			if table != nil {
				s.keyValue(expr, table, tablePath)
			}
		}
	}
	if err := s.p.Error(); err != nil {
		s.errs = append(s.errs, s.syntaxError(data, err, tablePath))
	}
	return s.ix, s.errs
}

// keyParts returns the parts of n's (possibly dotted) key and the line it starts on.
func (s *docScanner) keyParts(n *unstable.Node) ([]string, int) {
	var parts []string
	line := 0
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = s.p.Shape(k.Raw).Start.Line
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

func (s *docScanner) fail(line int, key, format string, a ...any) {
	s.errs = append(s.errs, &Error{File: s.name, Line: line, Key: key, Msg: fmt.Sprintf(format, a...)})
}

// header handles a [table] or [[array table]] header and returns the type and path
// that the following keys are relative to.
func (s *docScanner) header(kind unstable.Kind, parts []string, line int, root reflect.Type) (reflect.Type, string) {
	path := strings.Join(parts, ".")
	t, ok := walk(root, parts)
	if !ok {
		s.fail(line, "", "unknown table %q%s", path, didYouMean(suggestKey(root, parts)))
		return nil, path
	}
	if kind == unstable.ArrayTable {
		if t.Kind() != reflect.Slice || deref(t.Elem()).Kind() != reflect.Struct {
			s.fail(line, path, "expected %s, got an array of tables", expected(t))
			return nil, path
		}
		n := s.arrays[path]
		s.arrays[path] = n + 1
		elem := fmt.Sprintf("%s[%d]", path, n)
		s.ix.tables[elem] = line // a key the element leaves out is reported on its header
		return deref(t.Elem()), elem
	}
	if t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
		s.fail(line, path, "expected %s, got a table", expected(t))
		return nil, path
	}
	if first, dup := s.ix.tables[path]; dup {
		s.fail(line, "", "table %q defined twice (first on line %d)", path, first)
		return nil, path
	}
	s.ix.tables[path] = line
	return t, path
}

// keyValue checks one key = value pair set inside the table t at path prefix.
func (s *docScanner) keyValue(kv *unstable.Node, t reflect.Type, prefix string) {
	parts, line := s.keyParts(kv)
	full := joinKey(prefix, strings.Join(parts, "."))
	ft, ok := walk(t, parts)
	if !ok {
		hint := ""
		if near := suggestKey(t, parts); near != "" {
			hint = didYouMean(joinKey(prefix, near))
		}
		s.fail(line, "", "unknown key %q%s", full, hint)
		return
	}
	if first, dup := s.ix.keys[full]; dup {
		s.fail(line, full, "set twice (first on line %d)", first)
		return
	}
	s.ix.keys[full] = line
	s.value(kv.Value(), ft, full, line)
}

// value checks that the TOML value v fits the Go type t of key.
func (s *docScanner) value(v *unstable.Node, t reflect.Type, key string, line int) {
	t = deref(t)
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if v.Kind != unstable.String {
			s.fail(line, key, "expected %s, got %s", expected(t), describe(&s.p, v))
		}
		return // the decoder reports what UnmarshalText rejects
	}
	switch t.Kind() {
	case reflect.Struct:
		if v.Kind != unstable.InlineTable {
			s.fail(line, key, "expected a table, got %s", describe(&s.p, v))
			return
		}
		it := v.Children()
		for it.Next() {
			s.keyValue(it.Node(), t, key)
		}
	case reflect.Map:
		if v.Kind != unstable.InlineTable {
			s.fail(line, key, "expected a table, got %s", describe(&s.p, v))
		}
	case reflect.Slice, reflect.Array:
		if v.Kind != unstable.Array {
			s.fail(line, key, "expected an array, got %s", describe(&s.p, v))
			return
		}
		it := v.Children()
		for i := 0; it.Next(); i++ {
			el := it.Node()
			if el.Kind == unstable.Comment {
				continue
			}
			elLine := line
			if el.Raw.Length > 0 { // go-toml leaves Raw empty on array nodes
				elLine = s.p.Shape(el.Raw).Start.Line
			}
			s.value(el, t.Elem(), fmt.Sprintf("%s[%d]", key, i), elLine)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if v.Kind != unstable.Integer {
			s.fail(line, key, "expected an integer, got %s", describe(&s.p, v))
		}
	case reflect.Float32, reflect.Float64:
		if v.Kind != unstable.Float && v.Kind != unstable.Integer {
			s.fail(line, key, "expected a number, got %s", describe(&s.p, v))
		}
	case reflect.String:
		if v.Kind != unstable.String {
			s.fail(line, key, "expected a string, got %s", describe(&s.p, v))
		}
	case reflect.Bool:
		if v.Kind != unstable.Bool {
			s.fail(line, key, "expected a boolean (true or false), got %s", describe(&s.p, v))
		}
	}
	// Interfaces and other kinds: the decoder decides.
}

// bareKeyLine matches a line that starts with a bare (possibly dotted) key and '='.
var bareKeyLine = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*=`)

// syntaxError turns a parser error into an *Error on the right line. When that
// line starts with a bare key, the key (inside the current table) is named too.
func (s *docScanner) syntaxError(data []byte, err error, table string) *Error {
	ce := &Error{File: s.name, Msg: "syntax error: " + err.Error(), Err: err}
	var perr *unstable.ParserError
	if !errors.As(err, &perr) {
		return ce
	}
	ce.Msg = "syntax error: " + perr.Message
	offset := cap(data) - cap(perr.Highlight)
	if perr.Highlight == nil || offset < 0 || offset > len(data) {
		// Not a view of data: let the decoder, which positions every error, say where.
		if derr := new(toml.DecodeError); errors.As(toml.Unmarshal(data, new(map[string]any)), &derr) {
			ce.Line, _ = derr.Position()
		}
		return ce
	}
	ce.Line = 1 + bytes.Count(data[:offset], []byte{'\n'})
	lineStart := bytes.LastIndexByte(data[:offset], '\n') + 1
	lineEnd := bytes.IndexByte(data[lineStart:], '\n')
	if lineEnd < 0 {
		lineEnd = len(data) - lineStart
	}
	if m := bareKeyLine.FindSubmatch(data[lineStart : lineStart+lineEnd]); m != nil {
		key := strings.Join(strings.FieldsFunc(string(m[1]), func(r rune) bool { return r == '.' || r == ' ' || r == '\t' }), ".")
		ce.Key = joinKey(table, key)
	}
	return ce
}

// decodeErrors converts go-toml's decoding errors into *Error values.
func decodeErrors(err error, name string) []*Error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		out := make([]*Error, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			out = append(out, &Error{File: name, Line: line, Msg: fmt.Sprintf("unknown key %q", strings.Join(e.Key(), ".")), Err: e})
		}
		return out
	}
	var derr *toml.DecodeError
	if errors.As(err, &derr) {
		line, _ := derr.Position()
		return []*Error{{
			File: name, Line: line, Key: strings.Join(derr.Key(), "."),
			Msg: strings.TrimPrefix(derr.Error(), "toml: "), Err: derr,
		}}
	}
	return []*Error{{File: name, Msg: err.Error(), Err: err}}
}

// validationErrors places each *FieldError from Validate on the line that sets its key.
func validationErrors(err error, name string, ix keyIndex) []*Error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]*Error, 0, len(list))
	for _, e := range list {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, &Error{File: name, Line: ix.lineOf(fe.Key), Key: fe.Key, Msg: fe.Msg, Err: fe})
		} else {
			out = append(out, &Error{File: name, Msg: e.Error(), Err: e})
		}
	}
	return out
}

// joinSorted joins errs in line order; errors about defaults (line 0) come last.
func joinSorted(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		return la - lb
	})
	if len(errs) == 1 {
		return errs[0]
	}
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// walk follows the key parts from the struct (or map) type t by `toml` tags.
func walk(t reflect.Type, parts []string) (reflect.Type, bool) {
	for _, part := range parts {
		t = deref(t)
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := fieldByTag(t, part)
			if !ok {
				return nil, false
			}
			t = f.Type
		default:
			return nil, false
		}
	}
	return t, true
}

// fieldByTag returns the field of struct t whose `toml` name is name. Like go-toml,
// it looks through embedded structs without a tag as if their fields were t's.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag == "" && f.Anonymous && deref(f.Type).Kind() == reflect.Struct {
			if inner, ok := fieldByTag(deref(f.Type), name); ok {
				return inner, true
			}
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// expected names what a key of Go type t takes, for error messages.
func expected(t reflect.Type) string {
	t = deref(t)
	if t == durationType {
		return `a duration string such as "10s"`
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a table"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.String:
		return "a string"
	}
	return "a " + t.Kind().String()
}

// describe shows a TOML value in an error message: scalars as written, containers by kind.
func describe(p *unstable.Parser, v *unstable.Node) string {
	switch v.Kind {
	case unstable.InlineTable:
		return "a table"
	case unstable.Array:
		return "an array"
	}
	raw := string(p.Raw(v.Raw))
	if len(raw) > 40 || strings.ContainsAny(raw, "\r\n") {
		raw = strings.ReplaceAll(raw, "\n", " ")
		raw = strings.ReplaceAll(raw, "\r", "")
		if len(raw) > 40 {
			raw = raw[:37] + "..."
		}
	}
	return raw
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
