//go:build tools

// Package engines pins the commands this module builds (go mod tidy keeps them).
package engines

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
