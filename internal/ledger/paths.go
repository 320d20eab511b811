// Package ledger is the state elevate keeps in git: a status file for each
// open request, the archive of closed ones, and the commits (with
// machine-readable trailers) that record every transition. Only elevate
// writes these paths; the requester's file is never changed, only moved.
package ledger

import (
	"path"
	"strings"
)

// Folders elevate owns.
const (
	// StatusDir holds status/<id>.yaml for each open request.
	StatusDir = "status"
	// ArchiveDir holds closed requests: archive/<id>.yaml (the request as
	// merged) and archive/<id>.status.yaml (how it ended).
	ArchiveDir = "archive"
)

// StatusPath is where the status of an open request lives.
func StatusPath(id string) string { return path.Join(StatusDir, id+".yaml") }

// ArchivePath is where a closed request's file is moved.
func ArchivePath(id string) string { return path.Join(ArchiveDir, id+".yaml") }

// ArchiveStatusPath is where a closed request's final status lives.
func ArchiveStatusPath(id string) string { return path.Join(ArchiveDir, id+".status.yaml") }

// Owned reports whether p is under a folder only elevate may write.
func Owned(p string) bool {
	return p == StatusDir || p == ArchiveDir || strings.HasPrefix(p, StatusDir+"/") || strings.HasPrefix(p, ArchiveDir+"/")
}
