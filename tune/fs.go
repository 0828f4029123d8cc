package tune

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// at returns the real path of the absolute path p below root ("" or "/":
// the machine's own /proc and /sys).
func at(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}

// problems collects what could not be read, one line each, for the report.
// Not safe for concurrent use: one per reading.
type problems []string

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Sprintf(format, a...)) }

// reader reads the files of one tree. Its errors name the logical path (as
// on the real machine), not the test root. Not safe for concurrent use.
type reader struct {
	root string
	p    problems
}

// read returns the contents of the logical path p.
func (r *reader) read(p string) ([]byte, error) {
	b, err := os.ReadFile(at(r.root, p))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", p, unwrapPath(err))
	}
	return b, nil
}

// unwrapPath drops the *PathError's path (which may hold the test root).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// exists reports whether the logical path p exists.
func (r *reader) exists(p string) bool {
	_, err := os.Stat(at(r.root, p))
	return err == nil
}

// line returns the first line of p, trimmed.
func (r *reader) line(p string) (string, error) {
	b, err := r.read(p)
	if err != nil {
		return "", err
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b)), nil
}

// int64 reads p as one integer.
func (r *reader) int64(p string) (int64, error) {
	s, err := r.line(p)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %s: %q is not an integer", p, s)
	}
	return v, nil
}

// keyed reads a "key value" file (memory.stat, memory.events, /proc/meminfo
// without the "kB" unit handled by the caller) into a map. Lines that do
// not parse are skipped: kernels add keys, and one odd line must not hide
// the others.
func (r *reader) keyed(p string) (map[string]int64, error) {
	b, err := r.read(p)
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			m[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return m, nil
}
