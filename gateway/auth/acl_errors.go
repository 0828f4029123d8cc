package auth

import "strconv"

// ACLError is a pre-allocated ACL error kind. Compare with errors.Is: every
// kind is also ErrACLSyntax. Kinds are values shared by every caller; the
// line they refer to travels in an *ACLLineError that wraps them.
type ACLError struct {
	msg    string
	parent *ACLError
}

// Error returns the message.
func (e *ACLError) Error() string { return e.msg }

// Is reports whether target is e or one of e's ancestors.
func (e *ACLError) Is(target error) bool {
	for p := e; p != nil; p = p.parent {
		if p == target {
			return true
		}
	}
	return false
}

// ACL file errors. A file with any of them is refused as a whole: Load and
// Reload keep the previous rule set.
var (
	ErrACLSyntax     = &ACLError{msg: "acl: syntax error"}
	ErrACLFields     = &ACLError{msg: "acl: want 5 fields: user|client NAME|* allow|deny publish|subscribe|both FILTER", parent: ErrACLSyntax}
	ErrACLSubject    = &ACLError{msg: "acl: subject must be \"user\" or \"client\"", parent: ErrACLSyntax}
	ErrACLName       = &ACLError{msg: "acl: invalid name (empty, or holds a wildcard or U+0000)", parent: ErrACLSyntax}
	ErrACLPermission = &ACLError{msg: "acl: permission must be \"allow\" or \"deny\"", parent: ErrACLSyntax}
	ErrACLAction     = &ACLError{msg: "acl: action must be \"publish\", \"subscribe\" or \"both\"", parent: ErrACLSyntax}
	ErrACLFilter     = &ACLError{msg: "acl: invalid topic filter", parent: ErrACLSyntax}                               // [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1]
	ErrACLFilterLen  = &ACLError{msg: "acl: topic filter longer than 65535 bytes", parent: ErrACLSyntax}               // [MQTT-1.5.4]
	ErrACLFilterUTF  = &ACLError{msg: "acl: topic filter is not valid UTF-8 or contains U+0000", parent: ErrACLSyntax} // [MQTT-1.5.4-1], [MQTT-1.5.4-2]
	ErrACLDefault    = &ACLError{msg: "acl: acl_default must be \"allow\" or \"deny\"", parent: ErrACLSyntax}
)

// ACLLineError names where a rule is wrong: source (a file name, or
// "jwt"/"http" for rules from a verifier), the 1-based line and the
// offending token. It is built once per refused load, never per message.
type ACLLineError struct {
	Source string
	Line   int
	Token  string
	Kind   *ACLError
}

// Error reads `acl.conf:12: acl: action must be ...: "pub"`.
func (e *ACLLineError) Error() string {
	s := e.Source + ":" + strconv.Itoa(e.Line) + ": " + e.Kind.msg
	if e.Token != "" {
		s += ": " + strconv.Quote(e.Token)
	}
	return s
}

// Unwrap returns the kind, so errors.Is(err, ErrACLAction) holds.
func (e *ACLLineError) Unwrap() error { return e.Kind }
