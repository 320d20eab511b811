package request

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte("requester: alice\naccount: prod\npermissionSet: AdministratorAccess\nduration: 2h\nreason: Roll back the deploy\n"))
	f.Add([]byte("a: &a [x]\nb: *a\n"))
	f.Add([]byte("account: 012345678901\nstart: 2026-12-04T09:00:00\n---\nx: 1\n"))
	f.Add([]byte("requester: alice\nrequester: bob\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, fs := Parse("requests/fuzz.yaml", data)
		if (r == nil) == (len(fs) == 0) {
			t.Fatalf("request %v with %d findings", r, len(fs))
		}
		for _, f := range fs {
			if strings.ContainsAny(f.Text(), "\n\r") || !utf8.ValidString(f.Text()) {
				t.Fatalf("finding is not one clean line: %q", f.Text())
			}
			if f.Line < 0 || f.Col < 0 {
				t.Fatalf("bad position %d:%d", f.Line, f.Col)
			}
		}
		if r != nil {
			if r.Duration <= 0 || r.Duration > MaxDuration {
				t.Fatalf("accepted duration %v", r.Duration)
			}
			if r.Requester == "" || r.Account == "" || r.PermissionSet == "" || len(r.Reason) < 10 {
				t.Fatalf("accepted incomplete request %+v", r)
			}
			if hasControl(r.Reason) || hasControl(r.Requester) || hasControl(r.Ticket) {
				t.Fatalf("accepted control characters %+v", r)
			}
		}
	})
}
