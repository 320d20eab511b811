package moto

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Region is the region every Config uses.
const Region = "us-east-1"

// AccountHeader is the header moto reads to pick the account namespace.
const AccountHeader = "x-moto-account-id"

// Option changes what Config builds.
type Option func(*configOptions)

type configOptions struct {
	faults    *Faults
	accountID string
}

// WithFaults puts f in front of moto for this Config's requests.
func WithFaults(f *Faults) Option {
	return func(o *configOptions) { o.faults = f }
}

// WithAccountID uses the given 12-digit account namespace instead of a new
// random one, for example to reach the same data without faults.
func WithAccountID(id string) Option {
	return func(o *configOptions) { o.accountID = id }
}

// NewAccountID returns a random 12-digit account id.
func NewAccountID() string {
	return strconv.FormatInt(100_000_000_000+rand.Int64N(900_000_000_000), 10)
}

// Config returns an aws.Config for this server: static credentials, region
// us-east-1, BaseEndpoint the server's URL, and an HTTP client that sends
// every request to this server only, in its own account namespace (a new
// random one unless WithAccountID), through the Faults given by WithFaults.
// AccountID reports the namespace. It fails t if s is nil (no moto.Main).
func (s *Server) Config(t testing.TB, opts ...Option) aws.Config {
	t.Helper()
	if s == nil {
		t.Fatal("moto: no server: call moto.Main(m) from TestMain")
	}
	var o configOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.accountID == "" {
		o.accountID = NewAccountID()
	}
	return s.config(o)
}

func (s *Server) config(o configOptions) aws.Config {
	at := &accountTransport{server: s, accountID: o.accountID, faults: o.faults}
	return aws.Config{
		Region:       Region,
		Credentials:  staticCredentials,
		BaseEndpoint: aws.String(s.url),
		HTTPClient:   &http.Client{Transport: at},
	}
}

var staticCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDMOTOTEST", SecretAccessKey: "moto-test-secret", Source: "moto"}, nil
})

// AccountID is the moto account namespace of a Config built by
// Server.Config, or "" for any other Config.
func AccountID(cfg aws.Config) string {
	if at := transportOf(cfg); at != nil {
		return at.accountID
	}
	return ""
}

// WithoutFaults returns cfg reaching the same server and account with no
// fault injection and no call counting, for setup and assertions. Any other
// Config is returned unchanged.
func WithoutFaults(cfg aws.Config) aws.Config {
	at := transportOf(cfg)
	if at == nil {
		return cfg
	}
	plain := cfg.Copy()
	plain.HTTPClient = &http.Client{Transport: &accountTransport{server: at.server, accountID: at.accountID}}
	return plain
}

func transportOf(cfg aws.Config) *accountTransport {
	c, ok := cfg.HTTPClient.(*http.Client)
	if !ok {
		return nil
	}
	at, _ := c.Transport.(*accountTransport)
	return at
}

// accountTransport adds the account header, refuses any host but the
// server's (tests never reach the internet) and runs the fault injector.
type accountTransport struct {
	server    *Server
	accountID string
	faults    *Faults
}

func (t *accountTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.server.host {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("moto: refusing request to %s: only %s is allowed in tests", req.URL.Host, t.server.host)
	}
	req = req.Clone(req.Context())
	req.Header.Set(AccountHeader, t.accountID)
	if t.faults != nil {
		return t.faults.roundTrip(req, t.server.base)
	}
	return t.server.base.RoundTrip(req)
}

// Proxy serves the server to another process, such as a built binary that
// reads AWS_ENDPOINT_URL and cannot be given an aws.Config: it listens on a
// new 127.0.0.1 port and sends each request it receives as Config's client
// would, to the account namespace (a new random one unless WithAccountID)
// through the Faults given by WithFaults. It returns the proxy's URL and the
// account id, and stops when t ends.
func (s *Server) Proxy(t testing.TB, opts ...Option) (proxyURL, accountID string) {
	t.Helper()
	if s == nil {
		t.Fatal("moto: no server: call moto.Main(m) from TestMain")
	}
	var o configOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.accountID == "" {
		o.accountID = NewAccountID()
	}
	target, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = s.host },
		Transport: &accountTransport{server: s, accountID: o.accountID, faults: o.faults},
		// A client that went away (a killed process) is not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL, o.accountID
}
