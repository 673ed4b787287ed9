package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/radmfa/radmfa"

// adapters are the packages under internal/ that are allowed to do I/O
// (with their subpackages): they sit at the edges and are wired in by the
// front doors.
var adapters = []string{
	module + "/internal/archtest",
	module + "/internal/ldapdir", // LDAP / Active Directory
	module + "/internal/web",     // HTTP pages: approval, enrollment, admin
}

func isAdapter(pkg string) bool {
	for _, a := range adapters {
		if pkg == a || strings.HasPrefix(pkg, a+"/") {
			return true
		}
	}
	return false
}

// forbiddenDeps may not appear anywhere in a core package's dependencies.
var forbiddenDeps = []string{
	"database/sql",
	"net/http",
	"os/exec",
	"github.com/mattn/go-sqlite3",
	"github.com/go-ldap/ldap/v3",
	"github.com/hashicorp/go-plugin",
	"google.golang.org/grpc",
	"github.com/rs/zerolog",
	module + "/sqlite",
	module + "/exec",
	module + "/plugin",
}

// forbiddenImports may not be imported directly by a core package: the
// core gets files, sockets and processes through interfaces.
var forbiddenImports = []string{"os", "net", "syscall", "io/ioutil", "io/fs", "os/signal"}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Doc        string
}

func listPackages(t *testing.T, patterns ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, patterns...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestCoreImportDirection(t *testing.T) {
	for _, p := range listPackages(t, "./internal/...") {
		if isAdapter(p.ImportPath) {
			continue
		}
		t.Run(strings.TrimPrefix(p.ImportPath, module+"/"), func(t *testing.T) {
			for _, d := range p.Deps {
				for _, f := range forbiddenDeps {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("core package depends on %s: move the I/O into an adapter behind an interface", d)
					}
				}
			}
			for _, imp := range p.Imports {
				for _, f := range forbiddenImports {
					if imp == f {
						t.Errorf("core package imports %s directly: take an interface instead", imp)
					}
				}
			}
		})
	}
}

// TestAdaptersDependOnCore checks the other direction: the engine must be
// reachable from the front door, never the reverse (covered above), and the
// front door must use the engine rather than reimplement it.
func TestFrontDoorUsesEngine(t *testing.T) {
	for _, p := range listPackages(t, "./exec") {
		found := false
		for _, d := range p.Deps {
			if d == module+"/internal/mfa" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s does not use the engine", p.ImportPath)
		}
	}
}

// TestPackageDocs checks that every package has a doc comment.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t, "./...") {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
	}
}
