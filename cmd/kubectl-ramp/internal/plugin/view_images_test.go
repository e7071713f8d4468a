package plugin

import (
	"bytes"
	"strings"
	"testing"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func digestOf(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// status lists, per color, the digests each container's ready pods run, in
// full: two when the tag was pushed again, and an imageID that named no
// digest said so.
func TestWriteImages(t *testing.T) {
	st := &v1.RolloutStatus{Images: []v1.ColorImages{
		{Color: v1.Blue, Revision: "6d8f7c9b5", Pods: 4, Containers: []v1.ContainerImages{
			{Name: "app", Image: "registry.example/shop:v1.2.3", Digests: []string{digestOf("a")}},
			{Name: "proxy", Image: "proxy:v1", Digests: []string{""}},
		}},
		{Color: v1.Green, Revision: "7f5c8d6b4", Pods: 1, Containers: []v1.ContainerImages{
			{Name: "app", Image: "registry.example/shop:v1.2.4", Digests: []string{digestOf("b"), digestOf("c")}},
		}},
	}}
	var out bytes.Buffer
	if err := writeImages(&out, st); err != nil {
		t.Fatal(err)
	}
	want := "Digests:     blue@6d8f7c9b5  app  " + digestOf("a") + "  (4 ready pods)\n" +
		"             blue@6d8f7c9b5  proxy  -  (4 ready pods; an imageID named no digest)\n" +
		"             green@7f5c8d6b4  app  " + digestOf("b") + " " + digestOf("c") + "  (1 ready pod; 2 digests: the tag was pushed again)\n"
	if got := out.String(); got != want {
		t.Errorf("images:\n%s\nwant:\n%s", got, want)
	}
	t.Logf("\n%s", out.String())

	out.Reset()
	if err := writeImages(&out, &v1.RolloutStatus{}); err != nil || out.Len() != 0 {
		t.Errorf("no images: wrote %q (%v), want nothing", out.String(), err)
	}

	// In the status view, after the revisions.
	ro := shop()
	ro.Status.Images = st.Images
	out.Reset()
	if err := writeStatus(&out, statusView{ro: ro, now: now}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if i, j := strings.Index(s, "Canary:"), strings.Index(s, "Digests:     blue@6d8f7c9b5  app"); i < 0 || j < i {
		t.Errorf("status: want the digests after Canary:\n%s", s)
	}
}
