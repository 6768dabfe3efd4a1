package cli

import (
	"context"
	"io"
)

func exportSEN2(ctx context.Context, args []string, stdout io.Writer) error {
	return usageError("export sen2: not built yet")
}
