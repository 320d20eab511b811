package gitrepo

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

func TestSnapshotsAndChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gittest.New(t)
	g.Write("requests/a.yaml", "a\n")
	g.Write("requests/b.yaml", "b\n")
	base := g.Commit("base")
	g.Git("checkout", "-q", "-b", "pr")
	g.Write("requests/c.yaml", "c\n")
	g.Write("requests/a.yaml", "changed\n")
	g.Symlink("b.yaml", "requests/link.yaml")
	g.Git("rm", "-q", "requests/b.yaml")
	g.Write("big.yaml", strings.Repeat("x", 1000))
	head := g.Commit("pr")
	r, err := Open(ctx, g.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cs, err := r.Changes(ctx, base, head)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cs {
		got[c.Path] = string(c.Status) + " " + c.NewMode
	}
	want := map[string]string{"requests/a.yaml": "M 100644", "requests/b.yaml": "D 000000", "requests/c.yaml": "A 100644", "requests/link.yaml": "A 120000", "big.yaml": "A 100644"}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %q want %q", p, got[p], w)
		}
	}
	snap := r.At(head)
	if _, _, err := snap.Read(ctx, "requests/link.yaml", 100); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink read: %v", err)
	}
	if _, _, err := snap.Read(ctx, "requests/b.yaml", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted file read: %v", err)
	}
	data, size, err := snap.Read(ctx, "big.yaml", 10)
	if err != nil || size != 1000 || len(data) != 10 {
		t.Errorf("limited read: %d bytes of %d, %v", len(data), size, err)
	}
	// The batch reader stays in sync after a truncated read.
	if data, _, err := snap.Read(ctx, "requests/c.yaml", 100); err != nil || string(data) != "c\n" {
		t.Errorf("read after truncated read: %q %v", data, err)
	}
	if ok, err := r.Exists(ctx, base, "requests/b.yaml"); !ok || err != nil {
		t.Errorf("exists at base: %v %v", ok, err)
	}
	if _, err := r.Resolve(ctx, "--upload-pack=evil"); err == nil {
		t.Error("an option was accepted as a revision")
	}
	wt := WorkTree(g.Dir)
	es, err := wt.List(ctx, "requests")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]Kind{}
	for _, e := range es {
		kinds[e.Path] = e.Kind
	}
	if kinds["requests/link.yaml"] != Symlink || kinds["requests/c.yaml"] != File {
		t.Errorf("worktree kinds: %v", kinds)
	}
}
