package analysis

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
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
	// Service is the Service of the color measured: the canary's, or each
	// color's in turn for a compareToStable metric.
	Service string
	// Color is the color measured.
	Color string
	// Revision is the pod-template hash of the color measured.
	Revision string
	// Args are the argument values of a template's metric, read as
	// .Args.<name>; nil for a Rollout's own metrics.
	Args map[string]string
}

// Measuring returns v with Service, Color and Revision set to the canary's
// (stable false) or the stable color's.
func (v Vars) Measuring(stable bool) Vars {
	if stable {
		v.Service, v.Color, v.Revision = v.StableService, v.StableColor, v.StableRevision
	} else {
		v.Service, v.Color, v.Revision = v.CanaryService, v.CanaryColor, v.CanaryRevision
	}
	return v
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
	Service:        "app-green",
	Color:          "green",
	Revision:       "7f5c8d6b4",
}

// argsField is the field of Vars that holds a template's arguments.
const argsField = "Args"

// sampleVarsWith is sampleVars with a sample value for each argument.
func sampleVarsWith(args []string) Vars {
	vars := sampleVars
	if len(args) > 0 {
		vars.Args = make(map[string]string, len(args))
		for _, a := range args {
			vars.Args[a] = "sample"
		}
	}
	return vars
}

// knownFields are the field names of Vars a query reads alone, in
// declaration order (Args only as .Args.<name>).
var knownFields = func() []string {
	t := reflect.TypeFor[Vars]()
	var names []string
	for i := range t.NumField() {
		if n := t.Field(i).Name; n != argsField {
			names = append(names, n)
		}
	}
	return names
}()

// PromDuration formats d the way PromQL range selectors expect: 1m, 1m30s, 1s
// (millisecond precision, "0s" for zero).
func PromDuration(d time.Duration) string {
	return model.Duration(d).String()
}

// Limits on a query template. A Rollout's query is executed by the shared
// controller, so one team's query must not be able to stall or exhaust it.
const (
	// maxQueryBytes is the longest query text accepted.
	maxQueryBytes = 8 << 10
	// maxRenderedBytes caps what a query renders to, and separately the
	// strings its print, printf and println calls build in all.
	maxRenderedBytes = 64 << 10
	// maxPrintfWidth is the largest printf width or precision.
	maxPrintfWidth = 64
)

// refusedFuncs are the builtin functions a query may not call: no metric
// query needs them, call has nothing to call (Vars has no func fields), and
// html, js and urlquery multiply the length of what they escape, so nested
// they would grow it exponentially.
var refusedFuncs = []string{"call", "html", "js", "urlquery"}

var (
	errRenderedTooLong = fmt.Errorf("query renders to more than %d KiB", maxRenderedBytes>>10)
	errBuiltTooLong    = fmt.Errorf("query template builds more than %d KiB of text", maxRenderedBytes>>10)
)

// Render executes a query template with vars. A field Vars lacks, a template
// that does not parse, breaks a rule of checkStructure or fails to execute,
// or one that renders to blank text or to more than 64 KiB is an error.
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

// parseQuery parses a query and refuses, before anything executes, a query
// longer than 8 KiB or one that breaks a rule of checkStructure. The template
// calls bounded print, printf and println that draw on a budget of its own:
// execute it once.
func parseQuery(name, query string) (*template.Template, error) {
	if len(query) > maxQueryBytes {
		return nil, fmt.Errorf("query is %d bytes, more than the %d allowed", len(query), maxQueryBytes)
	}
	b := &budget{left: maxRenderedBytes}
	t, err := template.New(name).Option("missingkey=error").Funcs(b.funcs()).Parse(query)
	if err != nil {
		return nil, err
	}
	if t.Tree != nil {
		if err := checkStructure(t.Tree.Root); err != nil {
			return nil, err
		}
	}
	if defines(name, query, t) {
		return nil, errors.New("define and block are not allowed in a query template")
	}
	return t, nil
}

// defines reports whether query, parsed as t under name, defines a template
// of its own ({{define}}, or {{block}} which also defines one). A define adds a template to t's set, except when it is named
// name and the rest of the query is empty: then it is the body of t, so parse
// again under another name to see it.
func defines(name, query string, t *template.Template) bool {
	if len(t.Templates()) > 1 {
		return true
	}
	again, err := template.New(name + "-").Parse(query)
	return err != nil || len(again.Templates()) > 1
}

// checkStructure refuses, anywhere in a query's tree (branches the sample
// Vars do not take included), what could make execution loop or build
// without bound:
//   - range (there is nothing in Vars to range over; {{range 1000000}}
//     nested holds a worker forever), and so break and continue;
//   - template and block (with define, recursion);
//   - the functions in refusedFuncs;
//   - a printf format written in the query with a width or precision above
//     64 or taken from an argument (*). printf checks any other format when
//     it runs.
//
// Without range and template, execution visits each node of the tree at
// most once (if and with take one branch and never come back), so its time
// is bounded by the size of the tree (8 KiB of text at most) and the cost of
// one node. The costly nodes are the calls of print, printf and println,
// which together may build no more than 64 KiB (see budget), and comparisons,
// each of strings no longer than that. So no query can loop, and none needs
// stopping by a timer (a goroutine given up on would go on burning CPU).
func checkStructure(node parse.Node) error {
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkStructure(c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkStructure(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkStructure(c); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		if len(n.Args) > 1 {
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "printf" {
				if format, ok := n.Args[1].(*parse.StringNode); ok {
					if err := checkFormat(format.Text); err != nil {
						return err
					}
				}
			}
		}
		for _, a := range n.Args {
			if err := checkStructure(a); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return checkStructure(n.Node)
	case *parse.IdentifierNode:
		// A function, called wherever its name appears.
		if slices.Contains(refusedFuncs, n.Ident) {
			return fmt.Errorf("function %s is not allowed in a query template", n.Ident)
		}
	case *parse.IfNode:
		return checkStructureBranch(&n.BranchNode)
	case *parse.WithNode:
		return checkStructureBranch(&n.BranchNode)
	case *parse.RangeNode, *parse.BreakNode, *parse.ContinueNode:
		return errors.New("range is not allowed in a query template")
	case *parse.TemplateNode:
		return errors.New("template and block are not allowed in a query template")
	}
	return nil
}

func checkStructureBranch(n *parse.BranchNode) error {
	if err := checkStructure(n.Pipe); err != nil {
		return err
	}
	if err := checkStructure(n.List); err != nil {
		return err
	}
	return checkStructure(n.ElseList)
}

// checkFormat refuses a printf format with a width or precision above
// maxPrintfWidth or taken from an argument: fmt builds the padding before
// anything can count it, up to a million bytes a verb.
func checkFormat(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		// Flags, argument indexes, width and precision: what fmt reads
		// between % and the verb. The outer loop steps over the verb.
	spec:
		for i++; i < len(format); i++ {
			switch c := format[i]; {
			case strings.IndexByte("+-# 0.", c) >= 0:
			case c == '[':
				j := strings.IndexByte(format[i:], ']')
				if j < 0 {
					return nil // fmt writes a bad argument index
				}
				i += j
			case c == '*':
				return errors.New("printf width or precision from an argument (*) is not allowed in a query template")
			case '1' <= c && c <= '9':
				j := i
				for j < len(format) && '0' <= format[j] && format[j] <= '9' {
					j++
				}
				digits := format[i:j]
				if n, _ := strconv.Atoi(digits); len(digits) > 3 || n > maxPrintfWidth {
					return fmt.Errorf("printf width or precision %s is more than %d in a query template", digits, maxPrintfWidth)
				}
				i = j - 1
			default:
				break spec // the verb, or % for %%
			}
		}
	}
	return nil
}

// execute runs t with vars into a writer that refuses to go past 64 KiB, so
// execution stops at the first write past the cap rather than after building
// the whole text.
func execute(t *template.Template, vars Vars) (string, error) {
	var w cappedWriter
	if err := t.Execute(&w, vars); err != nil {
		return "", err
	}
	if strings.TrimSpace(w.b.String()) == "" {
		return "", errors.New("query renders to blank text")
	}
	return w.b.String(), nil
}

// cappedWriter fails a write that would take it past maxRenderedBytes.
type cappedWriter struct{ b strings.Builder }

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(p) > maxRenderedBytes-w.b.Len() {
		return 0, errRenderedTooLong
	}
	return w.b.Write(p)
}

// budget is what the print, printf and println calls of one execution may
// still build, in bytes. Each call is charged, before it builds anything, an
// upper bound of what it builds; past the budget it fails. Without the budget
// a query could double a string at each nested with or variable assignment.
type budget struct{ left int }

func (b *budget) charge(n int) error {
	if n > b.left {
		b.left = 0
		return errBuiltTooLong
	}
	b.left -= n
	return nil
}

// funcs replaces the builtin print, printf and println with ones that
// charge b.
func (b *budget) funcs() template.FuncMap {
	return template.FuncMap{
		"print": func(args ...any) (string, error) {
			if err := b.charge(printBound(args)); err != nil {
				return "", err
			}
			return fmt.Sprint(args...), nil
		},
		"println": func(args ...any) (string, error) {
			if err := b.charge(printBound(args) + 1); err != nil {
				return "", err
			}
			return fmt.Sprintln(args...), nil
		},
		"printf": func(format string, args ...any) (string, error) {
			// The format may come from a pipeline rather than the
			// query's text, so check it again.
			if err := checkFormat(format); err != nil {
				return "", err
			}
			if err := b.charge(printfBound(format, args)); err != nil {
				return "", err
			}
			return fmt.Sprintf(format, args...), nil
		},
	}
}

// What a template can hand print and printf: strings, Vars, and the numbers,
// booleans and nil of literals, len, index and comparisons.

// printBound bounds the length of fmt.Sprint(args...): each operand as %v,
// and a space between operands.
func printBound(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case Vars:
			n += varsBytes(v) + 256
		default:
			// The longest %v of a number: a complex128 of two
			// "-1.7976931348623157e+308".
			n += 64
		}
		n++
	}
	return n
}

// printfBound bounds the length of fmt.Sprintf(format, args...): the format,
// and for each verb (a % counts as one) its width and precision and the
// longest argument, since an argument index can repeat one; each argument
// again for %!(EXTRA ...). A string's verb writes at most 6 bytes a byte
// (%q, % #x); the longest number is %f of 1e308 with precision 64.
func printfBound(format string, args []any) int {
	longest, all := 0, 0
	for _, a := range args {
		var n int
		switch v := a.(type) {
		case string:
			n = 6*len(v) + 64
		case Vars:
			n = 6*varsBytes(v) + 1024
		default:
			n = 1024
		}
		longest = max(longest, n)
		all += n + 64
	}
	verbs := strings.Count(format, "%")
	return len(format) + verbs*(2*maxPrintfWidth+64+longest) + all
}

func varsBytes(v Vars) int {
	n := len(v.Namespace) + len(v.Rollout) + len(v.CanaryService) + len(v.StableService) +
		len(v.CanaryColor) + len(v.StableColor) + len(v.CanaryRevision) + len(v.StableRevision) +
		len(v.Interval) + len(v.Service) + len(v.Color) + len(v.Revision) + 16
	for k, a := range v.Args {
		n += len(k) + len(a) + 2
	}
	return n
}

// ValidateMetrics checks that every metric's query template is at most 8 KiB,
// parses, keeps to the rules of checkStructure (no range, template, block or
// define; no call, html, js or urlquery; printf widths up to 64), names only
// fields of Vars and executes against sample Vars within the 64 KiB caps. It
// returns one error per bad metric, each naming the field, e.g.
// "spec.analysis.metrics[0].query: range is not allowed in a query template" or
// "spec.analysis.metrics[1].query: template: error-rate:1: function "foo" not defined";
// nil when all are fine.
func ValidateMetrics(metrics []v1alpha1.Metric) []error {
	return validateMetrics("spec.analysis.metrics", metrics, nil)
}

// ValidateTemplateMetrics is ValidateMetrics for the metrics of an
// AnalysisTemplate that declares args: its queries may read .Args.<name>
// of a declared name, and an undeclared one is an error naming it. The
// fields are named spec.metrics[i].
func ValidateTemplateMetrics(metrics []v1alpha1.Metric, args []string) []error {
	return validateMetrics("spec.metrics", metrics, args)
}

func validateMetrics(field string, metrics []v1alpha1.Metric, args []string) []error {
	var errs []error
	for i, m := range metrics {
		switch {
		case m.Job != nil:
			continue // the API server checks a Job's template when it is created
		case m.Web != nil:
			if err := ValidateWebURL(m.Name, m.Web.URL, args...); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d].web.url: %w", field, i, err))
			}
			continue
		}
		if err := validateQuery(m.Name, m.Query, args); err != nil {
			errs = append(errs, fmt.Errorf("%s[%d].query: %w", field, i, err))
		}
		if g := m.MinSamples; g != nil {
			if err := validateQuery(m.Name+"-samples", g.Query, args); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d].minSamples.query: %w", field, i, err))
			}
		}
	}
	return errs
}

// ValidMetrics returns the metrics whose query templates validate: the ones
// that can be checked while a spec problem in another metric holds the
// rollout. args are the arguments the metrics may read (a template's
// declared arguments); none for a Rollout's own metrics.
func ValidMetrics(metrics []v1alpha1.Metric, args ...string) []v1alpha1.Metric {
	out := make([]v1alpha1.Metric, 0, len(metrics))
	for _, m := range metrics {
		if validateQuery(m.Name, m.Query, args) != nil {
			continue
		}
		if g := m.MinSamples; g != nil && validateQuery(m.Name+"-samples", g.Query, args) != nil {
			continue
		}
		out = append(out, m)
	}
	return out
}

func validateQuery(name, query string, args []string) error {
	t, err := parseQuery(name, query)
	if err != nil {
		return err
	}
	// Execution alone misses fields in branches the sample Vars do not take,
	// so walk the whole tree for fields first.
	if t.Tree != nil {
		if err := checkFields(t.Tree, t.Tree.Root, true, args); err != nil {
			return err
		}
	}
	vars := sampleVarsWith(args)
	_, err = execute(t, vars)
	return err
}

// checkFields reports the first field of the data (.X, or $.X anywhere) that
// Vars lacks. root says whether dot is still the data: inside with it is not,
// and execution is left to judge those fields. (parseQuery has refused range
// and template already.)
func checkFields(tree *parse.Tree, node parse.Node, root bool, args []string) error {
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkFields(tree, c, root, args); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkFields(tree, n.Pipe, root, args)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkFields(tree, c, root, args); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkFields(tree, a, root, args); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return checkFields(tree, n.Node, root, args)
	case *parse.FieldNode:
		if root {
			return checkIdent(tree, n, n.Ident, args)
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			return checkIdent(tree, n, n.Ident[1:], args)
		}
	case *parse.IfNode:
		return checkBranch(tree, &n.BranchNode, root, root, args)
	case *parse.RangeNode:
		return checkBranch(tree, &n.BranchNode, root, false, args)
	case *parse.WithNode:
		return checkBranch(tree, &n.BranchNode, root, false, args)
	case *parse.TemplateNode:
		return checkFields(tree, n.Pipe, root, args)
	}
	return nil
}

func checkBranch(tree *parse.Tree, n *parse.BranchNode, root, inner bool, args []string) error {
	if err := checkFields(tree, n.Pipe, root, args); err != nil {
		return err
	}
	if err := checkFields(tree, n.List, inner, args); err != nil {
		return err
	}
	return checkFields(tree, n.ElseList, root, args)
}

func checkIdent(tree *parse.Tree, node parse.Node, ident []string, args []string) error {
	// Every field of Vars but Args is a string or a number, so a known field
	// followed by another name (.Namespace.Foo) is unknown too.
	if len(ident) == 1 && slices.Contains(knownFields, ident[0]) {
		return nil
	}
	location, _ := tree.ErrorContext(node)
	if ident[0] == argsField {
		return checkArg(ident, location, args)
	}
	return fmt.Errorf("unknown field .%s at %s; known fields: .%s",
		strings.Join(ident, "."), location, strings.Join(knownFields, ", ."))
}

// checkArg accepts .Args.<name> of a declared argument, and nothing else
// under .Args.
func checkArg(ident []string, location string, args []string) error {
	if len(ident) == 2 && slices.Contains(args, ident[1]) {
		return nil
	}
	declared := "no arguments are declared (only an AnalysisTemplate's metrics have arguments)"
	if len(args) > 0 {
		sorted := slices.Sorted(slices.Values(args))
		declared = "declared arguments: .Args." + strings.Join(sorted, ", .Args.")
	}
	if len(ident) == 1 {
		return fmt.Errorf(".Args at %s must name an argument, as .Args.<name>; %s", location, declared)
	}
	return fmt.Errorf("unknown argument .%s at %s; %s", strings.Join(ident, "."), location, declared)
}
