package switchboard_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/switchboardhq/switchboard"

// TestImportsPointInwards keeps DESIGN.md's picture true: the root package
// uses only the standard library; services, workers and cdn never import an
// adapter; data planes never import the control plane.
func TestImportsPointInwards(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	adapters := []string{"/postgres", "/fly", "/blob", "/password"}
	controlPlane := []string{"/services", "/workers", "/cdn", "/postgres", "/fly", "/blob", "/password", "/apitest", "/cmd/"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		rel := strings.TrimPrefix(pkg, module)
		for _, imp := range imports {
			irel, ours := strings.CutPrefix(imp, module)
			switch {
			case pkg == module && (ours || strings.Contains(strings.Split(imp, "/")[0], ".")):
				t.Errorf("root package imports %s: it may use only the standard library", imp)
			case ours && hasAnyPrefix(rel, "/services", "/workers", "/cdn") && hasAnyPrefix(irel, adapters...):
				t.Errorf("%s imports adapter %s: only cmd/ wires adapters", pkg, imp)
			case ours && hasAnyPrefix(rel, "/dataplane") && (irel == "" || hasAnyPrefix(irel, controlPlane...)):
				t.Errorf("%s imports control-plane package %s", pkg, imp)
			}
		}
	}
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(s, p)) {
			return true
		}
	}
	return false
}
