package report

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// ResultsFile holds every request as Vegeta results (gob, Vegeta's own
// format): `vegeta report < results.bin` reads it.
const ResultsFile = "results.bin"

// WriteVegetaResults writes the entry service's requests (the load
// generator's view) into dir as Vegeta results, in send order, atomically.
func WriteVegetaResults(dir, attack string, tl *timeline.Timeline) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeAtomicFunc(filepath.Join(dir, ResultsFile), func(out io.Writer) error {
		w := bufio.NewWriterSize(out, 1<<16)
		enc := vegeta.NewEncoder(w)
		entry := tl.EntryService()
		if entry == nil {
			return w.Flush()
		}
		for i := range entry.Requests {
			r := tl.Result(entry, i, attack)
			if err := enc.Encode(&r); err != nil {
				return err
			}
		}
		return w.Flush()
	})
}
