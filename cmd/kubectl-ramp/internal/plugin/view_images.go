package plugin

import (
	"fmt"
	"io"
	"strings"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// writeImages writes status.images: per color with ready pods, the digests
// each container runs, in full (a digest is what a registry and the
// verification records name; a short form would not be). More than one
// digest for a container means its tag was pushed again while the pods
// started; an imageID that named no digest is said so. Nothing is written
// before a color's ready pods were read (or by a controller that predates
// status.images).
func writeImages(out io.Writer, st *v1.RolloutStatus) error {
	key := "Digests:"
	for _, e := range st.Images {
		for _, c := range e.Containers {
			var ds []string
			unnamed := false
			for _, d := range c.Digests {
				if d == "" {
					unnamed = true
					continue
				}
				ds = append(ds, d)
			}
			notes := []string{fmt.Sprintf("%d ready %s", e.Pods, plural(int(e.Pods), "pod", "pods"))}
			if len(ds) > 1 {
				notes = append(notes, fmt.Sprintf("%d digests: the tag was pushed again", len(ds)))
			}
			if unnamed {
				notes = append(notes, "an imageID named no digest")
			}
			what := strings.Join(ds, " ")
			if what == "" {
				what = "-"
			}
			if _, err := fmt.Fprintf(out, "%-*s%s@%s  %s  %s  (%s)\n", keyWidth, key, e.Color, e.Revision, c.Name, what, strings.Join(notes, "; ")); err != nil {
				return err
			}
			key = ""
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
