package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/strictyaml"
)

// Load reads every policy and the identities file from a snapshot. Findings
// are problems in those files; the error is for a snapshot that cannot be read.
// The set is nil when there are findings: requests are never judged against
// policies that do not all parse (fail closed).
func Load(ctx context.Context, snap gitrepo.Snapshot) (*Set, []finding.Finding, error) {
	entries, err := snap.List(ctx, Dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s in %s: %w", Dir, snap.Name(), err)
	}
	var fs []finding.Finding
	var policies []*Policy
	var ids *Identities
	for _, e := range entries {
		if e.Kind != gitrepo.File {
			fs = append(fs, finding.New(e.Path, finding.Pos{Line: 1, Col: 1}, "file-kind",
				fmt.Sprintf("%s is a %s; %s/ may hold only regular .yaml files", e.Path, e.Kind, Dir), "replace it with a regular file or remove it"))
			continue
		}
		if !strings.HasSuffix(e.Path, ".yaml") {
			fs = append(fs, finding.New(e.Path, finding.Pos{Line: 1, Col: 1}, "file-name",
				fmt.Sprintf("%s is not read: policy files end in .yaml", e.Path), "rename it to end in .yaml, or remove it"))
			continue
		}
		data, ffs, err := ReadFile(ctx, snap, e.Path)
		if err != nil {
			return nil, nil, err
		}
		if ffs != nil {
			fs = append(fs, ffs...)
			continue
		}
		if e.Path == IdentitiesFile {
			var pfs []finding.Finding
			ids, pfs = ParseIdentities(e.Path, data)
			fs = append(fs, pfs...)
			continue
		}
		p, pfs := Parse(e.Path, data)
		fs = append(fs, pfs...)
		if p != nil {
			policies = append(policies, p)
		}
	}
	if ids == nil && !hasFile(fs, IdentitiesFile) {
		fs = append(fs, finding.New(IdentitiesFile, finding.Pos{}, "identities-missing",
			fmt.Sprintf("%s is missing", IdentitiesFile), "create it with `version: 1` and `identities:` mapping GitHub logins to Identity Center user names"))
	}
	if len(policies) == 0 && len(fs) == 0 {
		fs = append(fs, finding.New(Dir, finding.Pos{}, "policies-missing", "no policy files in "+Dir+"/", "add a policy; see the README"))
	}
	set, sfs := NewSet(policies, ids)
	fs = append(fs, sfs...)
	if len(fs) > 0 {
		finding.Sort(fs)
		return nil, fs, nil
	}
	return set, nil, nil
}

// ReadFile reads a file a person wrote from a snapshot, refusing what is too
// large or not a regular file with a finding.
func ReadFile(ctx context.Context, snap gitrepo.Snapshot, path string) ([]byte, []finding.Finding, error) {
	data, size, err := snap.Read(ctx, path, strictyaml.MaxSize+1)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if err != nil {
		return nil, []finding.Finding{finding.New(path, finding.Pos{Line: 1, Col: 1}, "file-kind", err.Error(), "commit a regular file, not a symlink or directory")}, nil
	}
	if size > strictyaml.MaxSize {
		return nil, []finding.Finding{finding.New(path, finding.Pos{Line: 1, Col: 1}, "file-size",
			fmt.Sprintf("file is %d bytes, more than the %d allowed", size, strictyaml.MaxSize), "a request or policy file is a few lines; shorten it")}, nil
	}
	return data, nil, nil
}

func hasFile(fs []finding.Finding, file string) bool {
	for _, f := range fs {
		if f.File == file {
			return true
		}
	}
	return false
}
