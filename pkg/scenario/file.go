package scenario

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize bounds a scenario file. Real scenarios are a few kilobytes;
// the decoder's working set is about a hundred times the file, so the
// limit keeps a hostile or mistaken input well inside a laptop's memory.
const MaxFileSize = 1 << 20

// ReadFile reads a scenario file: a regular file (not a FIFO, device or
// directory, which could block or never end) of at most MaxFileSize bytes.
func ReadFile(path string) ([]byte, error) {
	info, err := os.Stat(path) // follows symbolic links
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, info); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should a FIFO replace the file after the check, opening
	// it does not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, info); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than the %d-byte limit of a scenario file", path, MaxFileSize)
	}
	return data, nil
}

func checkRegular(path string, info fs.FileInfo) error {
	m := info.Mode()
	switch {
	case m.IsRegular():
		if info.Size() > MaxFileSize {
			return fmt.Errorf("%s: %d bytes, larger than the %d-byte limit of a scenario file", path, info.Size(), MaxFileSize)
		}
		return nil
	case m.IsDir():
		return fmt.Errorf("%s: is a directory", path)
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%s: is a named pipe (FIFO), not a scenario file", path)
	case m&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return fmt.Errorf("%s: is a device, not a scenario file", path)
	}
	return fmt.Errorf("%s: not a regular file (%s)", path, m.Type())
}
