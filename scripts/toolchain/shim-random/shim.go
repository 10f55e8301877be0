// Package shim is written by scripts/toolchain.sh's build of pulumi-resource-random:
// the provider module replaces this package with a directory (./shim) that is a
// nested module and therefore not part of the published module. It only re-exports
// the upstream provider constructor, which lives in an internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream Terraform random provider.
func NewProvider() provider.Provider {
	return upstream.New()
}
