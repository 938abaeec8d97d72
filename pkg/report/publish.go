package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckWritable makes out if needed and proves a run can write into it,
// before anything runs.
func CheckWritable(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	probe, err := os.MkdirTemp(out, ".mcpsim-probe-")
	if err != nil {
		return fmt.Errorf("cannot write into %s: %w", out, err)
	}
	return os.Remove(probe)
}

// WriteSet writes one run's report set as a unit into <out>/<name>: the
// files are written into a fresh hidden directory beside it, which then
// replaces <out>/<name> whole. A reader (or a concurrent run into the
// same directory) therefore sees either the old set or the new one, never
// a mix, and files of an earlier run that this run does not write (an old
// results.bin) are gone. If ctx is cancelled before the swap, nothing
// changes. write fills the fresh directory.
func WriteSet(ctx context.Context, out, name string, write func(dir string) error) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating report directory: %w", err)
	}
	tmp, err := os.MkdirTemp(out, "."+name+".new-")
	if err != nil {
		return fmt.Errorf("writing reports: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := filepath.Join(out, name)
	// Move the old set aside, then the new one in. Another run may put its
	// set in between (the rename then fails: the directory is not empty);
	// try again, so that the last run to finish wins, whole.
	for attempt := 0; ; attempt++ {
		old := ""
		if _, err := os.Lstat(dst); err == nil {
			o, err := os.MkdirTemp(out, "."+name+".old-")
			if err != nil {
				return err
			}
			old = filepath.Join(o, name)
			if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
				os.RemoveAll(o)
				return fmt.Errorf("replacing %s: %w", dst, err)
			}
			defer os.RemoveAll(o)
		}
		err := os.Rename(tmp, dst)
		if err == nil {
			done = true
			return nil
		}
		if attempt < 10 && (errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)) {
			continue
		}
		if old != "" {
			os.Rename(old, dst) // put the previous set back
		}
		return fmt.Errorf("replacing %s: %w", dst, err)
	}
}
