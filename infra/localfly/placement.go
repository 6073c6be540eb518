package localfly

import (
	"net/http"
	"slices"
	"strings"

	fly "github.com/superfly/fly-go"
)

// regionFor returns the region a create request lands in: the requested one
// if this server offers it, else the first offered (Fly picks one near the
// caller when none is named).
func (s *Server) regionFor(requested string) (string, error) {
	if requested == "" {
		return s.regions[0], nil
	}
	if !slices.Contains(s.regions, requested) {
		return "", errorf(http.StatusBadRequest, "invalid region %q, valid regions: %s", requested, strings.Join(s.regions, ", "))
	}
	return requested, nil
}

var validCPUs = []int{1, 2, 4, 8, 16}

// normalizeGuest fills Fly's defaults into cfg.guest (from the deprecated
// cfg.size when given) and rejects sizes Fly would reject. Fly's limits:
// shared CPUs carry 256–2048 MB each, performance CPUs 2048–8192 MB each,
// in steps of 256 MB.
func normalizeGuest(cfg *fly.MachineConfig) error {
	if cfg.Guest == nil {
		cfg.Guest = &fly.MachineGuest{}
		size := cfg.VMSize
		if size == "" {
			size = fly.DefaultVMSize
		}
		if err := cfg.Guest.SetSize(size); err != nil {
			return errorf(http.StatusBadRequest, "%v", err)
		}
	}
	g := cfg.Guest
	if g.CPUKind == "" {
		g.CPUKind = "shared"
	}
	if g.CPUs == 0 {
		g.CPUs = 1
	}
	perCPUMin, perCPUMax := 256, 2048
	switch g.CPUKind {
	case "shared":
	case "performance":
		perCPUMin, perCPUMax = 2048, 8192
	default:
		return errorf(http.StatusBadRequest, "invalid cpu_kind %q, must be shared or performance", g.CPUKind)
	}
	if !slices.Contains(validCPUs, g.CPUs) {
		return errorf(http.StatusBadRequest, "invalid number of CPUs %d, must be one of %v", g.CPUs, validCPUs)
	}
	if g.MemoryMB == 0 {
		g.MemoryMB = perCPUMin * g.CPUs
	}
	if g.MemoryMB%256 != 0 {
		return errorf(http.StatusBadRequest, "invalid memory size %dMB, must be a multiple of 256MB", g.MemoryMB)
	}
	if lo, hi := perCPUMin*g.CPUs, perCPUMax*g.CPUs; g.MemoryMB < lo || g.MemoryMB > hi {
		return errorf(http.StatusBadRequest, "invalid memory size %dMB for %d %s CPUs, must be between %dMB and %dMB",
			g.MemoryMB, g.CPUs, g.CPUKind, lo, hi)
	}
	return nil
}
