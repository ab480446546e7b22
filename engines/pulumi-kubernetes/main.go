// pulumi-resource-kubernetes as upstream's cmd/pulumi-resource-kubernetes serves it. The
// upstream command embeds a schema that `go generate` writes at build time, which a
// module download cannot run; engines/build.sh writes the same file from the module's
// schema.json before `go build`.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
