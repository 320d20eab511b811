// Package schema holds elevate's JSON Schemas, embedded in the binary. The same
// files are what editors use through the yaml-language-server modeline.
package schema

import _ "embed"

// Request is the schema of requests/<id>.yaml.
//
//go:embed request.schema.json
var Request []byte

// Policy is the schema of policies/*.yaml.
//
//go:embed policy.schema.json
var Policy []byte

// Identities is the schema of policies/identities.yaml.
//
//go:embed identities.schema.json
var Identities []byte
