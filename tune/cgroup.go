package tune

import (
	"bufio"
	"bytes"
	"path"
	"strconv"
	"strings"
)

// mount is one line of /proc/self/mountinfo that mounts a cgroup hierarchy.
type mount struct {
	root   string   // the hierarchy's path that is mounted (field 4)
	point  string   // where it is mounted (field 5)
	fstype string   // "cgroup" (v1) or "cgroup2"
	opts   []string // super options: a v1 mount lists its controllers here
}

// parseMountinfo returns the cgroup mounts of a mountinfo file
// (proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw").
// Lines that do not parse are skipped.
func parseMountinfo(data []byte) []mount {
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ { // optional fields end at "-"
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+3 {
			continue
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		out = append(out, mount{
			root:   unescapeMount(f[3]),
			point:  unescapeMount(f[4]),
			fstype: fstype,
			opts:   strings.Split(f[sep+3], ","),
		})
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes ("\040" for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// membership is /proc/self/cgroup: the process's path in each v1
// hierarchy (by controller) and in the v2 hierarchy.
type membership struct {
	v1    map[string]string // controller -> path
	v2    string
	hasV2 bool
}

// parseProcCgroup parses "hierarchy-ID:controller-list:path" lines
// (cgroups(7)); "0::/path" is the v2 hierarchy.
func parseProcCgroup(data []byte) membership {
	m := membership{v1: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrls, p, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(p, "/") {
			continue
		}
		if id == "0" && ctrls == "" {
			m.v2, m.hasV2 = p, true
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			if c != "" {
				m.v1[c] = p
			}
		}
	}
	return m
}

// dirIn returns the directory of cgroup path p inside mount mt: the mount
// point plus p relative to the mounted root. A path outside the mounted
// root (a cgroup namespace shows "/" or "/../.."; a container may mount
// only its own subtree) is the mount point itself.
func dirIn(mt mount, p string) string {
	rel := p
	switch {
	case mt.root == "/":
	case p == mt.root:
		rel = "/"
	case strings.HasPrefix(p, mt.root+"/"):
		rel = p[len(mt.root):]
	default:
		rel = "/"
	}
	if strings.HasPrefix(rel, "/..") {
		rel = "/"
	}
	return path.Join(mt.point, rel)
}

// controllerDir finds where controller ctrl's files for this process are:
// a v1 hierarchy that lists ctrl wins (hybrid hosts mount v1 controllers
// beside an empty cgroup2), else the v2 hierarchy when its directory has
// a file named probe. top is the mount point, where nested walks stop.
func (r *reader) controllerDir(ctrl, probe string, mb membership, mounts []mount) (dir, top string, version int) {
	if p, ok := mb.v1[ctrl]; ok {
		for _, mt := range mounts {
			if mt.fstype != "cgroup" || !hasOpt(mt.opts, ctrl) {
				continue
			}
			d, ok := r.dirOrMount(dirIn(mt, p), mt.point, "cgroup v1 "+ctrl)
			if !ok {
				continue
			}
			return d, mt.point, 1
		}
	}
	if mb.hasV2 {
		for _, mt := range mounts {
			if mt.fstype != "cgroup2" {
				continue
			}
			d := dirIn(mt, mb.v2)
			if len(mb.v1) > 0 && !r.exists(d) {
				continue // hybrid host: the v1 hierarchies are the ones in use
			}
			d, ok := r.dirOrMount(d, mt.point, "cgroup v2")
			if !ok {
				continue
			}
			// The root cgroup has no limit files, but may have children
			// with them; only a directory on our path with probe counts.
			for x := d; ; x = path.Dir(x) {
				if r.exists(path.Join(x, probe)) {
					return d, mt.point, 2
				}
				if x == mt.point || x == "/" {
					break
				}
			}
		}
	}
	return "", "", 0
}

// dirOrMount returns d when it exists, else the mount point (a container
// that sees its cgroup path but has only its own subtree mounted), saying
// so; ok is false when neither exists.
func (r *reader) dirOrMount(d, point, what string) (string, bool) {
	if r.exists(d) {
		return d, true
	}
	if d != point && r.exists(point) {
		r.p.add("%s: %s does not exist, using the mount point %s", what, d, point)
		return point, true
	}
	r.p.add("%s: %s does not exist", what, d)
	return "", false
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}
