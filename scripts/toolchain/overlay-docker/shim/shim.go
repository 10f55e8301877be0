// Package shim is added by scripts/toolchain.sh to the upstream Terraform docker
// provider before building pulumi-resource-docker: pulumi-docker builds against a
// patched git submodule of the upstream that exposes its internal constructors here.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	upstream "github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream SDKv2 provider.
func NewProvider() *schema.Provider {
	return upstream.New("dev")()
}

// NewFrameworkProvider returns the upstream plugin-framework provider.
func NewFrameworkProvider() provider.Provider {
	return upstream.NewFrameworkProvider("dev")()
}
