package validate

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/elevate-dev/elevate/internal/gitrepo"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

func benchRepo(b *testing.B, n int) *gittest.Repo {
	r := gittest.New(b)
	r.CopyDir(filepath.Join("..", "..", "policies"), "policies")
	for i := 0; i < n; i++ {
		r.Write(fmt.Sprintf("requests/load-%d.yaml", i), fmt.Sprintf("requester: alice\naccount: sandbox\npermissionSet: ReadOnlyAccess\nduration: 2h\nreason: Load test request number %d\n", i))
	}
	r.Commit("base")
	return r
}

// BenchmarkTree is `elevate validate` over 10,000 request files.
func BenchmarkTree(b *testing.B) {
	r := benchRepo(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Tree(context.Background(), r.Dir, nil)
		if err != nil || len(rep.Findings) > 0 || len(rep.Requests) != 10000 {
			b.Fatalf("err %v, %d findings, %d requests", err, len(rep.Findings), len(rep.Requests))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10000, "µs/request")
}

// BenchmarkPR is PR mode over one added file in repos with 1,000 and 10,000
// existing requests: the cost must not grow with them.
func BenchmarkPR(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("existing=%d", n), func(b *testing.B) {
			r := benchRepo(b, n)
			r.Git("checkout", "-q", "-b", "pr")
			r.Write("requests/new-one.yaml", goodRequest)
			r.Commit("pr")
			repo, err := gitrepo.Open(context.Background(), r.Dir)
			if err != nil {
				b.Fatal(err)
			}
			defer repo.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := PR(context.Background(), repo, "main", "HEAD", "alice", nil)
				if err != nil || len(rep.Findings) > 0 || len(rep.Requests) != 1 {
					b.Fatalf("err %v, findings %v", err, rep.Findings)
				}
			}
		})
	}
}
