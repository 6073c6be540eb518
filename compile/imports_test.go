package compile_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Data planes import compile to verify artifacts, so it may import only the
// standard library, protobuf, gen/ and the root package.
func TestImports(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	const module = "github.com/switchboardhq/switchboard"
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			stdlib := !strings.Contains(strings.Split(path, "/")[0], ".")
			ok := stdlib || path == module || strings.HasPrefix(path, module+"/gen/") ||
				strings.HasPrefix(path, "google.golang.org/protobuf/")
			require.True(t, ok, "%s imports %s", name, path)
		}
	}
}
