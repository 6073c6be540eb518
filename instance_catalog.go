package switchboard

import (
	"regexp"
	"slices"
)

// Regions instances can run in, in the order region fallback tries them.
var Regions = []string{"iad", "ord", "lhr", "ams", "fra", "sin", "syd", "nrt"}

// DefaultRegion is used when CreateInstance names none.
const DefaultRegion = "iad"

// Size is a machine size from the catalog.
type Size struct {
	Name     string
	CPUKind  string
	CPUs     int
	MemoryMB int
}

// Sizes are the machine sizes instances can have, smallest first.
var Sizes = []Size{
	{Name: "shared-cpu-1x", CPUKind: "shared", CPUs: 1, MemoryMB: 256},
	{Name: "shared-cpu-2x", CPUKind: "shared", CPUs: 2, MemoryMB: 512},
	{Name: "performance-1x", CPUKind: "performance", CPUs: 1, MemoryMB: 2048},
}

// LookupSize returns the named size.
func LookupSize(name string) (Size, bool) {
	i := slices.IndexFunc(Sizes, func(s Size) bool { return s.Name == name })
	if i < 0 {
		return Size{}, false
	}
	return Sizes[i], true
}

// DefaultInstanceQuota is how many instances (not deleted) an organization
// may have unless its row says otherwise.
const DefaultInstanceQuota = 10

// Images run by each kind of instance. Locally, localfly maps them to
// binaries; on Fly they are registry images.
var Images = map[InstanceKind]string{
	KindRealtime: "switchboard/realtime",
	KindBreaker:  "switchboard/breaker",
}

// ServicePort is the port every data plane serves HTTP on inside its machine.
const ServicePort = 8080

var instanceNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// CheckInstanceName adds a violation unless s is 1 to 40 lower-case letters,
// digits and dashes, starting with a letter.
func (v *Violations) CheckInstanceName(field, s string) {
	switch {
	case s == "":
		v.Add(field, "is required")
	case !instanceNameRE.MatchString(s):
		v.Add(field, "must be 1 to 40 lower-case letters, digits and dashes, starting with a letter")
	}
}

// CheckInstanceKind adds a violation unless k is a known kind.
func (v *Violations) CheckInstanceKind(field string, k InstanceKind) {
	if _, ok := Images[k]; !ok {
		v.Add(field, "must be INSTANCE_KIND_REALTIME or INSTANCE_KIND_BREAKER")
	}
}

// CheckRegion adds a violation unless r is in the catalog.
func (v *Violations) CheckRegion(field, r string) {
	if !slices.Contains(Regions, r) {
		v.Addf(field, "must be one of %v", Regions)
	}
}

// CheckSize adds a violation unless s is in the catalog.
func (v *Violations) CheckSize(field, s string) {
	if _, ok := LookupSize(s); !ok {
		names := make([]string, len(Sizes))
		for i, sz := range Sizes {
			names[i] = sz.Name
		}
		v.Addf(field, "must be one of %v", names)
	}
}
