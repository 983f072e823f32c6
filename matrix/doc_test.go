package matrix_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestExportedNamesDocumented walks every package under matrix/ (issue #2, point 8) and
// names each exported identifier that has no doc comment: package clauses, types,
// functions, methods on exported types, and const/var declarations (a doc comment on a
// parenthesised group covers its members). Test files and testdata are skipped.
func TestExportedNamesDocumented(t *testing.T) {
	missing, err := undocumentedExports(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("undocumented: %s", m)
	}
}

// TestUndocumentedExportsFindsGaps proves the walker above can fail: each case is a small
// source file and the names the walker must report for it.
func TestUndocumentedExportsFindsGaps(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"all documented", `// Package p is documented.
package p

// T is documented.
type T struct{}

// M is documented.
func (T) M() {}

// F is documented.
func F() {}

// Group doc covers both.
const (
	A = 1
	B = 2
)

// V is documented.
var V = 1

func (T) m() {}
type u struct{}
func (u) Exported() {}
`, nil},
		{"no package doc", "package p\n", []string{"package p"}},
		{"undocumented names", `// Package p is documented.
package p

type T struct{}

func (*T) M() {}

func F() {}

const (
	A = 1
	// B is documented.
	B = 2
)

var V, W = 1, 2
`, []string{"p.A", "p.F", "p.T", "p.T.M", "p.V", "p.W"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := undocumentedExports(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i] = strings.TrimPrefix(got[i], filepath.Join(dir, "p.go")+": ")
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// undocumentedExports lists "file: pkg.Name" for every exported name without a doc
// comment in the Go packages under root, sorted.
func undocumentedExports(root string) ([]string, error) {
	var missing []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if d.Name() == "testdata" || (strings.HasPrefix(d.Name(), ".") && path != root) {
			return filepath.SkipDir
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, path, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, pkg := range pkgs {
			missing = append(missing, undocumentedInPackage(fset, pkg)...)
		}
		return nil
	})
	sort.Strings(missing)
	return missing, err
}

func undocumentedInPackage(fset *token.FileSet, pkg *ast.Package) []string {
	var missing []string
	report := func(pos token.Pos, name string) {
		missing = append(missing, fset.Position(pos).Filename+": "+pkg.Name+"."+name)
	}
	hasPkgDoc := false
	var firstFile *ast.File
	var names []string
	for name := range pkg.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := pkg.Files[name]
		if firstFile == nil {
			firstFile = f
		}
		if f.Doc != nil {
			hasPkgDoc = true
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() || d.Doc != nil {
					continue
				}
				if d.Recv == nil {
					report(d.Pos(), d.Name.Name)
					continue
				}
				if recv := receiverName(d.Recv.List[0].Type); ast.IsExported(recv) {
					report(d.Pos(), recv+"."+d.Name.Name)
				}
			case *ast.GenDecl:
				groupDoc := d.Doc != nil && d.Lparen.IsValid()
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
							report(s.Pos(), s.Name.Name)
						}
					case *ast.ValueSpec:
						if s.Doc != nil || s.Comment != nil || groupDoc || (d.Doc != nil && !d.Lparen.IsValid()) {
							continue
						}
						for _, n := range s.Names {
							if n.IsExported() {
								report(n.Pos(), n.Name)
							}
						}
					}
				}
			}
		}
	}
	if !hasPkgDoc && firstFile != nil {
		missing = append(missing, fset.Position(firstFile.Pos()).Filename+": package "+pkg.Name)
	}
	return missing
}

// receiverName is the type name of a method receiver: T, *T, T[P] or *T[P].
func receiverName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
