package generator

import (
	"bytes"
	"fmt"
	"os"
)

// Write writes the files whose contents changed, so that an unchanged
// generated file keeps its modification time and build caches stay warm.
func Write(files []File) error {
	for _, f := range files {
		if old, err := os.ReadFile(f.Path); err == nil && bytes.Equal(old, f.Src) {
			continue
		}
		if err := os.WriteFile(f.Path, f.Src, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}
