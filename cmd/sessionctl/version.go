package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sesame-go/sesame/internal/version"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version and VCS revision sessionctl was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version.String("sessionctl"))
			return err
		},
	}
}
