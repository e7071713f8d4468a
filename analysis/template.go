package analysis

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/prometheus/common/model"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// Vars are what a query template sees, as .Namespace, .Rollout and so on.
type Vars struct {
	// Namespace is the Rollout's namespace.
	Namespace string
	// Rollout is the Rollout's name.
	Rollout string
	// CanaryService is the Service of the canary color, e.g. shop-green.
	CanaryService string
	// StableService is the Service of the stable color, e.g. shop-blue.
	StableService string
	// CanaryColor is the canary's color, blue or green.
	CanaryColor string
	// StableColor is the stable color, blue or green.
	StableColor string
	// CanaryRevision is the pod-template hash of the canary.
	CanaryRevision string
	// StableRevision is the pod-template hash of the stable color.
	StableRevision string
	// Interval is the analysis interval as a Prometheus duration ("1m",
	// "1m30s"); see PromDuration.
	Interval string
	// Step is the index of the current step.
	Step int32
}

// sampleVars are the Vars a template is tried with by ValidateMetrics.
var sampleVars = Vars{
	Namespace:      "default",
	Rollout:        "app",
	CanaryService:  "app-green",
	StableService:  "app-blue",
	CanaryColor:    "green",
	StableColor:    "blue",
	CanaryRevision: "7f5c8d6b4",
	StableRevision: "6d8f7c9b5",
	Interval:       "1m",
	Step:           1,
}

// knownFields are the field names of Vars, in declaration order.
var knownFields = func() []string {
	t := reflect.TypeFor[Vars]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Name
	}
	return names
}()

// PromDuration formats d the way PromQL range selectors expect: 1m, 1m30s, 1s
// (millisecond precision, "0s" for zero).
func PromDuration(d time.Duration) string {
	return model.Duration(d).String()
}

// Render executes a query template with vars. A field Vars lacks, a template
// that does not parse or fails to execute, or one that renders to blank text
// is an error.
func Render(query string, vars Vars) (string, error) {
	return render("query", query, vars)
}

func render(name, query string, vars Vars) (string, error) {
	t, err := parseQuery(name, query)
	if err != nil {
		return "", err
	}
	return execute(t, vars)
}

func parseQuery(name, query string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(query)
}

func execute(t *template.Template, vars Vars) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, vars); err != nil {
		return "", err
	}
	if strings.TrimSpace(b.String()) == "" {
		return "", errors.New("query renders to blank text")
	}
	return b.String(), nil
}

// ValidateMetrics checks that every metric's query template parses, names only
// fields of Vars and executes against sample Vars. It returns one error per bad
// metric, each naming the field, e.g.
// "spec.analysis.metrics[1].query: template: error-rate:1: function "foo" not defined";
// nil when all are fine.
func ValidateMetrics(metrics []v1alpha1.Metric) []error {
	var errs []error
	for i, m := range metrics {
		if err := validateQuery(m.Name, m.Query); err != nil {
			errs = append(errs, fmt.Errorf("spec.analysis.metrics[%d].query: %w", i, err))
		}
	}
	return errs
}

// ValidMetrics returns the metrics whose query templates validate: the ones
// that can be checked while a spec problem in another metric holds the
// rollout.
func ValidMetrics(metrics []v1alpha1.Metric) []v1alpha1.Metric {
	out := make([]v1alpha1.Metric, 0, len(metrics))
	for _, m := range metrics {
		if validateQuery(m.Name, m.Query) == nil {
			out = append(out, m)
		}
	}
	return out
}

func validateQuery(name, query string) error {
	t, err := parseQuery(name, query)
	if err != nil {
		return err
	}
	// Execution alone misses fields in branches the sample Vars do not take,
	// so walk the whole tree for fields first.
	if t.Tree != nil {
		if err := checkFields(t.Tree, t.Tree.Root, true); err != nil {
			return err
		}
	}
	_, err = execute(t, sampleVars)
	return err
}

// checkFields reports the first field of the data (.X, or $.X anywhere) that
// Vars lacks. root says whether dot is still the data: inside range and with
// it is not, and execution is left to judge those fields.
func checkFields(tree *parse.Tree, node parse.Node, root bool) error {
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkFields(tree, c, root); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkFields(tree, n.Pipe, root)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkFields(tree, c, root); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkFields(tree, a, root); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return checkFields(tree, n.Node, root)
	case *parse.FieldNode:
		if root {
			return checkIdent(tree, n, n.Ident)
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			return checkIdent(tree, n, n.Ident[1:])
		}
	case *parse.IfNode:
		return checkBranch(tree, &n.BranchNode, root, root)
	case *parse.RangeNode:
		return checkBranch(tree, &n.BranchNode, root, false)
	case *parse.WithNode:
		return checkBranch(tree, &n.BranchNode, root, false)
	case *parse.TemplateNode:
		return checkFields(tree, n.Pipe, root)
	}
	return nil
}

func checkBranch(tree *parse.Tree, n *parse.BranchNode, root, inner bool) error {
	if err := checkFields(tree, n.Pipe, root); err != nil {
		return err
	}
	if err := checkFields(tree, n.List, inner); err != nil {
		return err
	}
	return checkFields(tree, n.ElseList, root)
}

func checkIdent(tree *parse.Tree, node parse.Node, ident []string) error {
	// Every field of Vars is a string or a number, so a known field followed
	// by another name (.Namespace.Foo) is unknown too.
	if len(ident) == 1 && slices.Contains(knownFields, ident[0]) {
		return nil
	}
	location, _ := tree.ErrorContext(node)
	return fmt.Errorf("unknown field .%s at %s; known fields: .%s",
		strings.Join(ident, "."), location, strings.Join(knownFields, ", ."))
}
