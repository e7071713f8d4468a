package charttest

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// documentedValues walks values.yaml and returns the dotted path of every
// documented field: a key whose comment starts with "# --". A key without
// one must be a map whose fields are all documented.
func documentedValues(t *testing.T, node *yaml.Node, prefix string, out map[string]bool) {
	t.Helper()
	if node.Kind == yaml.DocumentNode {
		documentedValues(t, node.Content[0], prefix, out)
		return
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		path := prefix + key.Value
		if hasDocComment(key.HeadComment) {
			out[path] = true
			continue
		}
		if value.Kind != yaml.MappingNode || len(value.Content) == 0 {
			t.Errorf("values.yaml: %s has no \"# --\" comment", path)
			continue
		}
		documentedValues(t, value, path+".", out)
	}
}

func hasDocComment(c string) bool {
	for _, line := range strings.Split(c, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "# --") {
			return true
		}
	}
	return false
}

// Every field of values.yaml is documented there and has a row in the
// values table of the chart's README, and every row names a real field.
func TestValuesDocumented(t *testing.T) {
	dir := chartDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	inValues := map[string]bool{}
	documentedValues(t, &doc, "", inValues)

	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z0-9_.]+)` \\|")
	inTable := map[string]bool{}
	section := string(readme)
	if i := strings.Index(section, "\n## Values\n"); i >= 0 {
		section = section[i:]
	} else {
		t.Fatal("charts/ramp/README.md has no \"## Values\" section")
	}
	if i := strings.Index(section[1:], "\n## "); i >= 0 {
		section = section[:i+1]
	}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		inTable[m[1]] = true
	}
	var missing, unknown []string
	for v := range inValues {
		if !inTable[v] {
			missing = append(missing, v)
		}
	}
	for v := range inTable {
		if !inValues[v] {
			unknown = append(unknown, v)
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf("values without a row in charts/ramp/README.md: %s", strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		t.Errorf("README rows naming no documented value of values.yaml: %s", strings.Join(unknown, ", "))
	}
	if len(inValues) < 40 {
		t.Errorf("found only %d documented values; is the walk right?", len(inValues))
	}
}
