package compile_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/compile"
)

func TestIsBlockedIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip                       string
		blocked, blockedIfPrivOK bool
	}{
		{"8.8.8.8", false, false},
		{"2606:4700::1111", false, false},
		{"::ffff:8.8.8.8", false, false},
		{"127.0.0.1", true, false},
		{"::1", true, false},
		{"::ffff:127.0.0.1", true, false},
		{"10.255.0.1", true, false},
		{"172.31.255.255", true, false},
		{"192.168.0.1", true, false},
		{"100.127.255.254", true, false},
		{"169.254.0.1", true, false},
		{"fe80::1%eth0", true, false},
		{"fc00::1", true, false},
		{"fd12:3456::1", true, false},
		{"2002:c0a8:101::1", true, false}, // 6to4 of 192.168.1.1
		{"64:ff9b::7f00:1", true, false},  // NAT64 of 127.0.0.1
		{"169.254.169.254", true, true},
		{"::ffff:169.254.169.254", true, true},
		{"fd00:ec2::254", true, true},
		{"100.100.100.200", true, true},
		{"0.0.0.0", true, true},
		{"::", true, true},
		{"0.1.2.3", true, true},
		{"224.0.0.251", true, true},
		{"ff02::1", true, true},
		{"255.255.255.255", true, true},
		{"240.0.0.1", true, true},
		{"::7f00:1", true, true}, // IPv4-compatible
	}
	for _, tc := range tests {
		ip := netip.MustParseAddr(tc.ip)
		require.Equal(t, tc.blocked, compile.IsBlockedIP(ip, false), tc.ip)
		require.Equal(t, tc.blockedIfPrivOK, compile.IsBlockedIP(ip, true), "%s with private allowed", tc.ip)
	}
	require.True(t, compile.IsBlockedIP(netip.Addr{}, true), "zero Addr")
}
