package compile

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
)

// checker collects violations up to maxViolations.
type checker struct {
	v       switchboard.Violations
	dropped int
}

func (c *checker) add(field, rule string) {
	if len(c.v) >= maxViolations {
		c.dropped++
		return
	}
	c.v.Add(field, rule)
}

func (c *checker) addf(field, format string, args ...any) {
	c.add(field, fmt.Sprintf(format, args...))
}

// err returns the collected violations as an EINVALID *switchboard.Error.
func (c *checker) err(root, message string) error {
	if len(c.v) == 0 {
		return nil
	}
	v := c.v
	if c.dropped > 0 {
		v = append(v, switchboard.FieldViolation{Field: root, Rule: fmt.Sprintf("%d more violations not shown", c.dropped)})
	}
	return &switchboard.Error{Code: switchboard.EINVALID, Message: message, Violations: v}
}

// intRange checks min <= v <= max.
func (c *checker) intRange(field string, v, min, max int32) {
	if v < min || v > max {
		c.addf(field, "must be between %d and %d", min, max)
	}
}

// unknownFields refuses protobuf fields this version does not know.
func (c *checker) unknownFields(field string, m proto.Message, p policy) {
	if p.allowUnknown {
		return
	}
	if len(m.ProtoReflect().GetUnknown()) > 0 {
		c.add(field, "has unknown fields")
	}
}

// text checks that s is valid UTF-8 without control characters; it reports
// and returns false otherwise.
func (c *checker) text(field, s string) bool {
	if !utf8.ValidString(s) {
		c.add(field, "must be valid UTF-8")
		return false
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		c.add(field, "must not contain control characters")
		return false
	}
	return true
}

// documentSize refuses documents over MaxDocumentBytes.
func documentSize(field string, m proto.Message) error {
	if n := proto.Size(m); n > MaxDocumentBytes {
		return switchboard.Invalid(field, fmt.Sprintf("must be at most %d bytes encoded, is %d", MaxDocumentBytes, n))
	}
	return nil
}
