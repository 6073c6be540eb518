package switchboard

import (
	"encoding/base64"
	"strings"
)

// Page sizes for every list method.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// PageRequest is a list method's paging input.
type PageRequest struct {
	Size  int32
	Token string
}

// Page is a validated PageRequest: how many to return and the sort key
// (an id, or an encoded position) to continue after.
type Page struct {
	Limit int
	After string
}

// ParsePage validates page_size and page_token. Tokens are opaque to callers:
// base64url of "v1:" plus the last item's key.
func ParsePage(r PageRequest) (Page, error) {
	var v Violations
	p := v.CheckPage(r)
	return p, v.Err()
}

// CheckPage is ParsePage for a method that validates other fields too.
func (v *Violations) CheckPage(r PageRequest) Page {
	p := Page{Limit: int(r.Size)}
	switch {
	case r.Size == 0:
		p.Limit = DefaultPageSize
	case r.Size < 0 || r.Size > MaxPageSize:
		v.Addf("page_size", "must be between 1 and %d", MaxPageSize)
	}
	if r.Token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(r.Token)
		after, ok := strings.CutPrefix(string(raw), "v1:")
		if err != nil || !ok || after == "" || len(after) > 200 {
			v.Add("page_token", "must be a next_page_token from a previous response")
		}
		p.After = after
	}
	return p
}

// PageToken returns the next_page_token that continues after key.
func PageToken(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + key))
}
