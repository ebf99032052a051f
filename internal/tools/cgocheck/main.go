// Command cgocheck type-checks, from any host, the files of a package that
// build only for darwin with cgo: the Virtualization.framework code that
// uses github.com/Code-Hex/vz/v3. Such files cannot be compiled, vetted or
// type-checked by the normal toolchain without a Mac (cgo needs the macOS
// SDK), so `GOOS=darwin CGO_ENABLED=0 go vet` never sees them. This tool
// selects the package's files for GOOS=darwin, GOARCH=arm64 (or those
// -goarch lists) and cgo enabled, and checks them with go/types with FakeImportC, which declares
// an empty package "C" and ignores what is looked up in it. Every other
// package they import (the standard library, this module, vz itself, which
// uses cgo too) is loaded from source for the same target the same way, so
// calls into vz's Go API are checked against its real signatures.
//
// Usage:
//
//	go run ./internal/tools/cgocheck [-goarch arm64[,amd64]] [-v] PACKAGE...
//
// A PACKAGE is a directory, a directory followed by /... for it and every
// package below it (testdata, vendor and dot or underscore directories
// skipped), or an import path. Every type error is printed as
// file:line:col: message and the exit status is 1; 2 means the packages
// could not be loaded. A package with no files that need darwin and cgo
// is not checked, and the exit status is 0: the cgo-disabled vet already
// covers it. One given by name is reported as such; those found by a
// pattern are counted in one line (named with -v).
//
// What it cannot see: the C side (the preamble, C.* names, argument
// conversions into C), and errors that only the cgo tool's rewriting would
// cause. It checks the Go side, which is where misuse of vz's API shows.
package main

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	goarchList := flag.String("goarch", "arm64", "comma-separated GOARCH values to select files for (darwin's are arm64 and amd64)")
	verbose := flag.Bool("v", false, "name every package skipped for having no darwin&&cgo files")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: cgocheck [-goarch arm64[,amd64]] [-v] PACKAGE...\n\n"+
			"Type-checks the darwin+cgo (Virtualization.framework) files of each package\n"+
			"with go/types and FakeImportC. PACKAGE is a directory, DIR/..., or an import path.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	goarches := strings.Split(*goarchList, ",")
	for _, a := range goarches {
		if a != "arm64" && a != "amd64" {
			fmt.Fprintf(os.Stderr, "cgocheck: -goarch %s: darwin has only arm64 and amd64\n", a)
			os.Exit(2)
		}
	}
	targets, err := expand(flag.Args(), goarches[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cgocheck:", err)
		os.Exit(2)
	}
	failed, broken := false, false
	checked, quiet := 0, 0
	for _, t := range targets {
		printed := map[string]bool{} // errors already shown for another GOARCH
		nothing := true              // no darwin&&cgo files for any GOARCH
		for i, goarch := range goarches {
			res, err := Check(t.dir, goarch)
			if err != nil {
				fmt.Fprintf(os.Stderr, "cgocheck: %s (darwin/%s): %v\n", display(t.dir), goarch, err)
				broken = true
				nothing = false
				continue
			}
			if res.Skipped {
				continue
			}
			nothing = false
			checked++
			if len(res.Errors) == 0 {
				fmt.Printf("cgocheck: %s: ok for darwin/%s with cgo (%d darwin&&cgo files, %d in all)\n",
					display(t.dir), goarch, len(res.CgoOnly), len(res.Files))
				continue
			}
			failed = true
			for _, e := range res.Errors {
				if printed[e] {
					continue
				}
				printed[e] = true
				if i > 0 {
					e += " [darwin/" + goarch + " only]"
				}
				fmt.Fprintln(os.Stderr, e)
			}
		}
		if nothing {
			if t.named || *verbose {
				fmt.Printf("cgocheck: %s: no darwin&&cgo files, nothing to check (GOOS=darwin CGO_ENABLED=0 go vet covers it)\n", display(t.dir))
			} else {
				quiet++
			}
		}
	}
	if quiet > 0 {
		fmt.Printf("cgocheck: %d package(s) without darwin&&cgo files, nothing to check (-v names them)\n", quiet)
	}
	if checked == 0 && quiet > 0 && !broken {
		fmt.Println("cgocheck: no package given has darwin&&cgo files: nothing was type-checked")
	}
	switch {
	case broken:
		os.Exit(2)
	case failed:
		os.Exit(1)
	}
}

// Result is what Check found in one package directory.
type Result struct {
	// Files are the files that build for darwin with cgo, all of which
	// were type-checked together.
	Files []string
	// CgoOnly are those of Files that do not build with cgo disabled:
	// what this tool exists for.
	CgoOnly []string
	// Skipped is set when CgoOnly is empty; nothing was checked.
	Skipped bool
	// Errors are the type errors, each as file:line:col: message.
	Errors []string
}

// Check type-checks the package in dir as it builds for darwin/goarch with
// cgo enabled. An error means the package or one of its imports could not
// be loaded; type errors are in the Result.
func Check(dir, goarch string) (*Result, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	ctx := darwinContext(goarch, true, abs)
	noCgo := darwinContext(goarch, false, abs)

	bp, err := ctx.ImportDir(abs, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return &Result{Skipped: true}, nil
		}
		return nil, err
	}
	res := &Result{}
	res.Files = append(append([]string{}, bp.GoFiles...), bp.CgoFiles...)
	slices.Sort(res.Files)
	var plain []string
	if nb, err := noCgo.ImportDir(abs, 0); err == nil {
		plain = nb.GoFiles // without cgo there are no CgoFiles
	}
	for _, f := range res.Files {
		if !slices.Contains(plain, f) {
			res.CgoOnly = append(res.CgoOnly, f)
		}
	}
	if len(res.CgoOnly) == 0 {
		res.Skipped = true
		return res, nil
	}

	imp := newImporter(ctx, goarch)
	files, err := imp.parse(abs, res.Files)
	if err != nil {
		return nil, err
	}
	conf := types.Config{
		FakeImportC: true,
		Importer:    imp,
		Sizes:       types.SizesFor("gc", goarch),
		Error: func(err error) {
			var te types.Error
			if errors.As(err, &te) {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %s", position(te.Fset.Position(te.Pos)), te.Msg))
			} else {
				res.Errors = append(res.Errors, err.Error())
			}
		},
	}
	path := bp.ImportPath
	if path == "" || path == "." {
		path = filepath.ToSlash(abs)
	}
	// The errors are collected by conf.Error; the returned one is the first.
	_, _ = conf.Check(path, imp.fset, files, nil)
	if imp.err != nil {
		return nil, imp.err
	}
	return res, nil
}

// darwinContext returns the default build context retargeted at darwin:
// a copy, so the process's build.Default is left alone. With the file
// system hooks, tool tags and release tags left at their defaults,
// Context.Import resolves module packages by running `go list` with GOOS,
// GOARCH and CGO_ENABLED set from the context, in dir's module. (ToolTags
// stay the host's, e.g. amd64.v1: only files constrained on an
// architecture feature level could be mis-selected.)
func darwinContext(goarch string, cgo bool, dir string) build.Context {
	ctx := build.Default
	ctx.GOOS = "darwin"
	ctx.GOARCH = goarch
	ctx.CgoEnabled = cgo
	ctx.Dir = dir
	return ctx
}

// importer loads imported packages from source for the darwin context,
// recursively, type-checking each with FakeImportC (the standard library's
// runtime/cgo and net, and vz and its internal/objc, use cgo) and without
// function bodies. Errors inside imported packages are ignored: only their
// exported API matters here, and C-typed parts of it are untyped under
// FakeImportC anyway.
type importer struct {
	ctx   build.Context
	fset  *token.FileSet
	sizes types.Sizes
	tctx  *types.Context
	pkgs  map[string]*types.Package // by directory
	busy  map[string]bool           // directories being loaded: cycles
	err   error                     // first load failure
}

func newImporter(ctx build.Context, goarch string) *importer {
	return &importer{
		ctx:   ctx,
		fset:  token.NewFileSet(),
		sizes: types.SizesFor("gc", goarch),
		tctx:  types.NewContext(),
		pkgs:  map[string]*types.Package{},
		busy:  map[string]bool{},
	}
}

// Import implements types.Importer.
func (imp *importer) Import(path string) (*types.Package, error) {
	return imp.ImportFrom(path, imp.ctx.Dir, 0)
}

// ImportFrom implements types.ImporterFrom: path as imported by a file in
// dir.
func (imp *importer) ImportFrom(path, dir string, _ types.ImportMode) (*types.Package, error) {
	if path == "unsafe" {
		return types.Unsafe, nil
	}
	bp, err := imp.ctx.Import(path, dir, 0)
	if err != nil {
		return nil, imp.fail(fmt.Errorf("importing %s for darwin/%s with cgo: %w", path, imp.ctx.GOARCH, err))
	}
	if p := imp.pkgs[bp.Dir]; p != nil {
		return p, nil
	}
	if imp.busy[bp.Dir] {
		return nil, imp.fail(fmt.Errorf("import cycle through %s", bp.ImportPath))
	}
	imp.busy[bp.Dir] = true
	defer delete(imp.busy, bp.Dir)

	files, err := imp.parse(bp.Dir, append(append([]string{}, bp.GoFiles...), bp.CgoFiles...))
	if err != nil {
		return nil, imp.fail(err)
	}
	conf := types.Config{
		Context:          imp.tctx,
		FakeImportC:      true,
		IgnoreFuncBodies: true,
		Importer:         imp,
		Sizes:            imp.sizes,
		Error:            func(error) {}, // carry on: only the API is needed
	}
	p, _ := conf.Check(bp.ImportPath, imp.fset, files, nil)
	p.MarkComplete()
	imp.pkgs[bp.Dir] = p
	return p, nil
}

// fail records the first load failure, which makes Check fail rather than
// report type errors that follow from a missing package.
func (imp *importer) fail(err error) error {
	if imp.err == nil {
		imp.err = err
	}
	return err
}

// parse parses the named files of dir, with comments.
func (imp *importer) parse(dir string, names []string) ([]*ast.File, error) {
	files := make([]*ast.File, 0, len(names))
	for _, name := range names {
		f, err := parser.ParseFile(imp.fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// target is a package directory to check; named is set when it was given
// by itself rather than found by a DIR/... pattern.
type target struct {
	dir   string
	named bool
}

// expand turns the command-line arguments into package directories.
func expand(args []string, goarch string) ([]target, error) {
	var targets []target
	for _, arg := range args {
		if root, ok := strings.CutSuffix(arg, "/..."); ok || arg == "..." {
			if root == "" || arg == "..." {
				root = "."
			}
			found, err := walk(root)
			if err != nil {
				return nil, err
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("%s matched no packages", arg)
			}
			for _, d := range found {
				targets = append(targets, target{dir: d})
			}
			continue
		}
		if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
			targets = append(targets, target{dir: arg, named: true})
			continue
		}
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		ctx := darwinContext(goarch, true, cwd)
		bp, err := ctx.Import(arg, cwd, build.FindOnly)
		if err != nil {
			return nil, fmt.Errorf("%s is neither a directory nor a package: %v", arg, err)
		}
		targets = append(targets, target{dir: bp.Dir, named: true})
	}
	return targets, nil
}

// walk returns root and the directories below it that hold .go files,
// skipping those the go command ignores.
func walk(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root {
			name := d.Name()
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
				dirs = append(dirs, path)
				break
			}
		}
		return nil
	})
	return dirs, err
}

// position formats p as file:line:col with the file relative to the
// working directory when it is below it.
func position(p token.Position) string {
	return fmt.Sprintf("%s:%d:%d", display(p.Filename), p.Line, p.Column)
}

// display shortens path to be relative to the working directory when it
// is below it.
func display(path string) string {
	cwd, err := os.Getwd()
	if err != nil {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(cwd, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
