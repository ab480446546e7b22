"""Writes the provider schema and mapping the provider command embeds, as upstream's
`go generate` step (cmd/pulumi-resource-kubernetes/generate.go) does: the module's
schema.json with its version set, and the terraform mapping, compacted."""

import json
import sys
from pathlib import Path

src, version = Path(sys.argv[1]), sys.argv[2]
schema = json.loads((src / "schema.json").read_text())
schema["version"] = version
Path("schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
mapping = json.loads((src / "terraform-mapping.json").read_text())
Path("terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))
