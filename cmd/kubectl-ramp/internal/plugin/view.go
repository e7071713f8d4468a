package plugin

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

const barWidth = 20

// weightBar draws a percentage as `[#####               ] 25%`.
func weightBar(weight int32) string {
	w := min(max(int(weight), 0), 100)
	n := w * barWidth / 100
	return "[" + strings.Repeat("#", n) + strings.Repeat(" ", barWidth-n) + "] " + strconv.Itoa(int(weight)) + "%"
}

// inFlight reports whether a canary revision is being rolled out.
func inFlight(st *v1.RolloutStatus) bool { return plan.InFlight(st) }

func stableOf(st *v1.RolloutStatus) string {
	if st.StableColor == "" || st.StableRevision == "" {
		return "-"
	}
	return string(st.StableColor) + "@" + st.StableRevision
}

func canaryOf(st *v1.RolloutStatus) string {
	if st.CanaryRevision == "" || st.StableColor == "" {
		return "-"
	}
	return string(st.StableColor.Other()) + "@" + st.CanaryRevision
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// since is a past time as kubectl writes ages ("3s", "2m5s").
func since(t time.Time, now time.Time) string {
	return duration.HumanDuration(max(now.Sub(t), 0))
}

// ago is a past time as "3s ago".
func ago(t *metav1.MicroTime, now time.Time) string {
	if t == nil {
		return "never"
	}
	return since(t.Time, now) + " ago"
}

// in is a future time as "in 42s", or "now" once it has come.
func in(t time.Time, now time.Time) string {
	if !t.After(now) {
		return "now"
	}
	return "in " + duration.HumanDuration(t.Sub(now))
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05Z") }

// writeList writes the table of kubectl ramp list.
func writeList(out io.Writer, items []v1.Rollout, allNamespaces bool, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	if allNamespaces {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tPHASE\tSTEP\tWEIGHT\tSTABLE\tCANARY\tAGE")
	for i := range items {
		ro := &items[i]
		st := &ro.Status
		if allNamespaces {
			fmt.Fprintf(tw, "%s\t", ro.Namespace)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			ro.Name, orDash(string(st.Phase)), orDash(st.StepProgress), weightBar(st.CanaryWeight),
			stableOf(st), canaryOf(st), since(ro.CreationTimestamp.Time, now))
	}
	return tw.Flush()
}

// statusView is everything kubectl ramp status shows of one Rollout.
type statusView struct {
	ro          *v1.Rollout
	stableImage string // images of the stable color's Deployment
	canaryImage string // images of the canary revision
	now         time.Time
}

// writeStatus writes the view of kubectl ramp status.
func writeStatus(out io.Writer, v statusView) error {
	ro, st, now := v.ro, &v.ro.Status, v.now
	line := func(key, format string, args ...any) {
		fmt.Fprintf(out, "%-*s%s\n", keyWidth, key+":", fmt.Sprintf(format, args...))
	}
	steps := ro.Spec.EffectiveSteps()
	line("Name", "%s", ro.Name)
	line("Namespace", "%s", ro.Namespace)
	line("Phase", "%s", orDash(string(st.Phase)))
	line("Message", "%s", orDash(st.Message))
	if c := meta.FindStatusCondition(st.Conditions, v1.ConditionValid); c != nil && c.Status == metav1.ConditionFalse {
		line("Invalid", "%s", c.Message)
	}
	if inFlight(st) {
		line("Step", "%s  %s", orDash(st.StepProgress), stepsLine(ro, steps, st.CurrentStep))
		line("Weight", "%s to %s", weightBar(st.CanaryWeight), st.StableColor.Other())
	} else {
		line("Steps", "%s", stepsLine(ro, steps, -1))
		line("Weight", "%s (%s serves all traffic)", weightBar(0), orDash(string(st.StableColor)))
	}
	line("Stable", "%s", joinNonEmpty("  ", stableOf(st), v.stableImage))
	switch {
	case st.CanaryRevision == "":
		line("Canary", "-")
	case st.Phase == v1.PhaseRolledBack:
		line("Canary", "%s", joinNonEmpty("  ", canaryOf(st), v.canaryImage, "(rolled back)"))
	default:
		line("Canary", "%s", joinNonEmpty("  ", canaryOf(st), v.canaryImage))
	}
	if st.AbortReason != "" {
		line("Aborted", "%s", st.AbortReason)
	}
	if p := ro.Spec.Promotion; p != nil && len(p.Requires) > 0 {
		line("Requires", "%s", requiresLine(&ro.Spec))
	}
	if rec := st.Verification; rec != nil {
		line("Record", "%s  %s (%s)", rec.Name, rec.Record.Outcome, orDash(rec.Record.Environment))
	}
	if err := writeImages(out, st); err != nil {
		return err
	}
	if err := writeChecks(out, ro, now); err != nil {
		return err
	}
	for _, r := range pauseReasons(ro) {
		line("Paused", "%s", r)
	}
	if s := approvalsLine(ro); s != "" {
		line("Approvals", "%s", s)
	}
	if u := st.PostPromotionUntil; u != nil && u.After(now) {
		line("Watching", "checks go on until %s (%s); a breach switches back to %s", clock(u.Time), in(u.Time, now), st.StableColor.Other())
	}
	if n := lastNotification(st.Notifications); n != nil {
		line("Notified", "%s  %s %s ago%s", n.Moment, n.State, since(n.At.Time, now), prefixed(": ", n.Result))
	}
	if at := st.ScaleDownAt; at != nil && at.After(now) {
		line("Scale-down", "%s to zero pods %s", st.StableColor.Other(), in(at.Time, now))
	}
	_, err := fmt.Fprintf(out, "%-*s%s\n", keyWidth, "Waiting for:", waitingFor(ro, now))
	return err
}

// lastNotification is the newest moment status.notifications records.
func lastNotification(list []v1.NotificationRecord) *v1.NotificationRecord {
	var out *v1.NotificationRecord
	for i := range list {
		if out == nil || !list[i].At.Before(&out.At) {
			out = &list[i]
		}
	}
	return out
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// keyWidth aligns the values of kubectl ramp status.
const keyWidth = len("Waiting for: ")

func joinNonEmpty(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// stepsLine lists the step weights, the current one in brackets and gates
// marked: `1% 5% [25%] 50%(gate) 100%`.
func stepsLine(ro *v1.Rollout, steps []v1.Step, current int32) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		p := fmt.Sprintf("%d%%", s.Weight)
		if s.Pause != nil {
			if s.Pause.Approvals > 0 {
				p += fmt.Sprintf("(gate, %d approvals)", s.Pause.Approvals)
			} else {
				p += "(gate)"
			}
		}
		if int32(i) == current {
			p = "[" + p + "]"
		}
		parts[i] = p
	}
	return strings.Join(parts, " ")
}

// writeChecks writes the last check of each metric against its bounds:
// the spec's and those of the templates the revision resolved (marked with
// their template), a comparison's value beside the stable color's; then
// the templates' snapshot.
func writeChecks(out io.Writer, ro *v1.Rollout, now time.Time) error {
	a := ro.Spec.Analysis
	if a == nil {
		_, err := fmt.Fprintf(out, "%-*s%s\n", keyWidth, "Checks:", "none (steps advance on their holds)")
		return err
	}
	var sa v1.AnalysisStatus
	if ro.Status.Analysis != nil {
		sa = *ro.Status.Analysis
	}
	fmt.Fprintf(out, "%-*severy %s, %d failed (limit %d), last %s\n", keyWidth, "Checks:",
		ro.Spec.AnalysisInterval(), sa.FailedChecks, a.FailureLimit, ago(sa.LastCheckAt, now))
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	for _, s := range plan.Metrics(&ro.Spec, &ro.Status) {
		m := s.Metric
		name := m.Name + checkKind(m)
		if s.Template != "" {
			name += " (" + s.Template + ")"
		}
		var ms *v1.MetricStatus
		for i := range sa.Metrics {
			if sa.Metrics[i].Name == m.Name {
				ms = &sa.Metrics[i]
			}
		}
		if ms == nil {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, judgement("", m.Min, m.Max)+comparison(m, ""), "not checked yet")
			continue
		}
		judged := judgement(ms.Value, m.Min, m.Max) + comparison(m, ms.StableValue)
		if m.Job != nil {
			judged = "Job " + orDash(ms.Value) // a job's value is its Job's name
		}
		row := fmt.Sprintf("  %s\t%s\t%s\t%s", name, judged, orDash(string(ms.Phase)), ago(ms.CheckedAt, now))
		if ms.Phase == v1.CheckInconclusive || ms.Phase == v1.CheckError || (m.Job != nil && ms.Phase == v1.CheckFailed) {
			row += "\t" + ms.Message // why it could not decide; a value says the rest
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeTemplates(out, sa.Templates)
}

// checkKind marks a check that is not a plain query: " [job at steps 0]",
// " [web GET http://...]", and " every 5m0s" for a metric on an interval of
// its own.
func checkKind(m v1.Metric) string {
	out := ""
	switch {
	case m.Job != nil:
		steps := m.Job.Steps
		if len(steps) == 0 {
			steps = []int32{0}
		}
		out = fmt.Sprintf(" [job at steps %s]", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(steps)), ","), "[]"))
	case m.Web != nil:
		method := m.Web.Method
		if method == "" {
			method = "GET"
		}
		out = fmt.Sprintf(" [web %s %s]", method, m.Web.URL)
	}
	if m.Interval != nil && m.Interval.Duration > 0 {
		out += " every " + m.Interval.Duration.String()
	}
	return out
}

// comparison says what a compareToStable metric was judged against: the
// stable color's value of the same check and the rule, e.g.
// `vs stable 0.01 (allowed x1.5 or +0.005)`; "" for other metrics.
func comparison(m v1.Metric, stable string) string {
	c := m.CompareToStable
	if c == nil {
		return ""
	}
	if stable == "" {
		stable = "?"
	}
	var up, down []string
	if c.MaxRatio != nil {
		up = append(up, "x"+num(*c.MaxRatio))
	}
	if c.MaxIncrease != nil {
		up = append(up, "+"+num(*c.MaxIncrease))
	}
	if c.MinRatio != nil {
		down = append(down, "x"+num(*c.MinRatio))
	}
	if c.MaxDecrease != nil {
		down = append(down, "-"+num(*c.MaxDecrease))
	}
	var rules []string
	if len(up) > 0 {
		rules = append(rules, "at most "+strings.Join(up, " or "))
	}
	if len(down) > 0 {
		rules = append(rules, "at least "+strings.Join(down, " or "))
	}
	return fmt.Sprintf(" vs stable %s (%s)", stable, strings.Join(rules, ", "))
}

// writeTemplates writes the templates the revision resolved when it
// started, with the generation and the argument values it uses.
func writeTemplates(out io.Writer, snap *v1.TemplateSnapshot) error {
	if snap == nil {
		return nil
	}
	for i, t := range snap.Items {
		key := ""
		if i == 0 {
			key = "Templates:"
		}
		args := make([]string, 0, len(t.Args))
		for _, k := range slices.Sorted(maps.Keys(t.Args)) {
			args = append(args, k+"="+t.Args[k])
		}
		line := fmt.Sprintf("%s/%s generation %d", t.Kind, t.Name, t.Generation)
		if len(args) > 0 {
			line += " (" + strings.Join(args, ", ") + ")"
		}
		if t.Prometheus != nil {
			line += " at " + t.Prometheus.Address
		}
		if _, err := fmt.Fprintf(out, "%-*s%s\n", keyWidth, key, line); err != nil {
			return err
		}
	}
	return nil
}

// judgement writes a value against its bounds, the comparison saying on
// which side it lies: `0.002 <= 0.01`, `0.05 > 0.01`, `0.9 <= 0.95 <= 1`.
func judgement(value string, lo, hi *float64) string {
	f, err := strconv.ParseFloat(value, 64)
	if value == "" || err != nil || math.IsNaN(f) {
		v := value
		if v == "" {
			v = "?"
		}
		return v + " (" + bounds(lo, hi) + ")"
	}
	v := num(f)
	switch {
	case lo != nil && f < *lo:
		return v + " < " + num(*lo)
	case hi != nil && f > *hi:
		return v + " > " + num(*hi)
	case lo != nil && hi != nil:
		return num(*lo) + " <= " + v + " <= " + num(*hi)
	case lo != nil:
		return v + " >= " + num(*lo)
	case hi != nil:
		return v + " <= " + num(*hi)
	}
	return v
}

func bounds(lo, hi *float64) string {
	switch {
	case lo != nil && hi != nil:
		return num(*lo) + " <= x <= " + num(*hi)
	case lo != nil:
		return ">= " + num(*lo)
	case hi != nil:
		return "<= " + num(*hi)
	}
	return "no bounds"
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// pauseReasons says why the rollout is held: the Paused condition, and the
// pause annotation when its effect is not already named there.
func pauseReasons(ro *v1.Rollout) []string {
	var out []string
	held := ""
	if c := meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionPaused); c != nil && c.Status == metav1.ConditionTrue {
		held = c.Message
		if held == "" {
			held = c.Reason
		}
		out = append(out, held)
	}
	if paused, _ := v1.PauseValue(ro.Annotations[v1.AnnotationPause]); paused && !strings.Contains(held, v1.AnnotationPause) {
		out = append(out, v1.AnnotationPause+"=true is set")
	}
	return out
}

// gateApprovals is the number of approvals the current step's gate needs,
// zero when it has no gate or needs none.
func gateApprovals(ro *v1.Rollout) int32 {
	steps := ro.Spec.EffectiveSteps()
	i := ro.Status.CurrentStep
	if !inFlight(&ro.Status) || i < 0 || int(i) >= len(steps) || steps[i].Pause == nil {
		return 0
	}
	return steps[i].Pause.Approvals
}

func approvers(st *v1.RolloutStatus) []string {
	users := make([]string, 0, len(st.Approvals))
	for _, a := range st.Approvals {
		users = append(users, a.User)
	}
	return users
}

func approvalsLine(ro *v1.Rollout) string {
	need := gateApprovals(ro)
	users := approvers(&ro.Status)
	switch {
	case need > 0 && len(users) > 0:
		return fmt.Sprintf("%d of %d (%s)", len(users), need, strings.Join(users, ", "))
	case need > 0:
		return fmt.Sprintf("0 of %d", need)
	case len(users) > 0:
		return strings.Join(users, ", ")
	}
	return ""
}
