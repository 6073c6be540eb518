package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnifiedDiff(t *testing.T) {
	t.Parallel()
	require.Empty(t, unifiedDiff("a", "b", "x\ny\n", "x\ny\n"))
	require.Equal(t, "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+ x\n+ y\n", unifiedDiff("a", "b", "", "x\ny\n"))
	from := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	to := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n"
	require.Equal(t, "--- a\n+++ b\n@@ -2,7 +2,7 @@\n  2\n  3\n  4\n- 5\n+ five\n  6\n  7\n  8\n", unifiedDiff("a", "b", from, to))
}

func TestJSONToYAMLKeepsOrder(t *testing.T) {
	t.Parallel()
	y, err := jsonToYAML([]byte(`{"name":"p","b":[1,2.5,true,null,{"z":"1","a":"x"}]}`))
	require.NoError(t, err)
	require.Equal(t, "name: p\nb:\n  - 1\n  - 2.5\n  - true\n  - null\n  - z: \"1\"\n    a: x\n", string(y))
}
