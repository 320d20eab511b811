package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// Kind is what a directory entry is. elevate reads only regular files.
type Kind int

// Entry kinds.
const (
	File Kind = iota
	Symlink
	Dir
	Other
)

func (k Kind) String() string {
	return [...]string{"file", "symlink", "directory", "special file"}[k]
}

// SnapshotEntry is an entry of a directory in a Snapshot.
type SnapshotEntry struct {
	// Path is relative to the top of the repository, with forward slashes.
	Path string
	Kind Kind
	// Size is the size in bytes for files.
	Size int64
}

// Snapshot is the repository's files as of one point: a commit or the
// working tree. It never follows symlinks.
type Snapshot interface {
	// Name says which point this is ("working tree", a commit id).
	Name() string
	// List returns the entries directly in dir; a missing dir is empty.
	List(ctx context.Context, dir string) ([]SnapshotEntry, error)
	// Read returns at most limit bytes of a regular file and its full size.
	// A missing file returns fs.ErrNotExist; a symlink or directory is refused.
	Read(ctx context.Context, path string, limit int64) ([]byte, int64, error)
}

// WorkTree is the checked-out files under a directory.
type WorkTree string

// Name implements Snapshot.
func (w WorkTree) Name() string { return "working tree" }

// List implements Snapshot.
func (w WorkTree) List(_ context.Context, dir string) ([]SnapshotEntry, error) {
	des, err := os.ReadDir(filepath.Join(string(w), filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []SnapshotEntry
	for _, de := range des {
		e := SnapshotEntry{Path: path.Join(dir, de.Name())}
		switch t := de.Type(); {
		case t&fs.ModeSymlink != 0:
			e.Kind = Symlink
		case t.IsDir():
			e.Kind = Dir
		case t.IsRegular():
			e.Kind = File
			if info, err := de.Info(); err == nil {
				e.Size = info.Size()
			}
		default:
			e.Kind = Other
		}
		out = append(out, e)
	}
	return out, nil
}

// Read implements Snapshot.
func (w WorkTree) Read(_ context.Context, p string, limit int64) ([]byte, int64, error) {
	full := filepath.Join(string(w), filepath.FromSlash(p))
	info, err := os.Lstat(full)
	if err != nil {
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is a %s, not a regular file", p, kindOf(info.Mode()))
	}
	f, err := os.Open(full)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit))
	return data, info.Size(), err
}

func kindOf(m fs.FileMode) Kind {
	switch {
	case m&fs.ModeSymlink != 0:
		return Symlink
	case m.IsDir():
		return Dir
	case m.IsRegular():
		return File
	}
	return Other
}

// At returns the snapshot of commit rev (already resolved to an id).
func (r *Repo) At(rev string) Snapshot { return &commitSnapshot{repo: r, rev: rev} }

type commitSnapshot struct {
	repo *Repo
	rev  string
	mu   sync.Mutex
	dirs map[string][]Entry
}

// tree lists dir once per snapshot: a commit never changes.
func (c *commitSnapshot) tree(ctx context.Context, dir string) ([]Entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if es, ok := c.dirs[dir]; ok {
		return es, nil
	}
	es, err := c.repo.Tree(ctx, c.rev, dir)
	if err != nil {
		return nil, err
	}
	if c.dirs == nil {
		c.dirs = map[string][]Entry{}
	}
	c.dirs[dir] = es
	return es, nil
}

func (c *commitSnapshot) Name() string { return c.rev }

func (c *commitSnapshot) List(ctx context.Context, dir string) ([]SnapshotEntry, error) {
	es, err := c.tree(ctx, dir)
	if err != nil {
		return nil, err
	}
	var out []SnapshotEntry
	for _, e := range es {
		out = append(out, SnapshotEntry{Path: e.Path, Kind: modeKind(e.Mode)})
	}
	return out, nil
}

func (c *commitSnapshot) Read(ctx context.Context, p string, limit int64) ([]byte, int64, error) {
	// One path, not the whole folder: reading one request must not cost
	// more when requests/ holds thousands.
	e, ok, err := c.repo.Lookup(ctx, c.rev, p)
	if err != nil {
		return nil, 0, err
	}
	if ok && e.Path == p {
		if k := modeKind(e.Mode); k != File {
			return nil, 0, fmt.Errorf("%s is a %s, not a regular file", p, k)
		}
		data, size, _, err := c.repo.ReadBlob(ctx, e.Object, limit)
		if errors.Is(err, ErrTooLarge) {
			err = nil
		}
		return data, size, err
	}
	return nil, 0, fmt.Errorf("%s at %s: %w", p, shortID(c.rev), fs.ErrNotExist)
}

// ModeKind says what a git tree mode is.
func modeKind(mode string) Kind {
	switch {
	case mode == "120000":
		return Symlink
	case mode == "040000":
		return Dir
	case strings.HasPrefix(mode, "100"):
		return File
	}
	return Other
}

// ModeKind says what a git tree mode ("100644", "120000", ...) is.
func ModeKind(mode string) Kind { return modeKind(mode) }

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
