// Package metrics holds the controller's own Prometheus metrics, the ones
// dashboards read (DESIGN.md, "Controller metrics"): each rollout's phase,
// step, weight, check values and thresholds, and rollback latency.
package metrics

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// Metrics are Ramp's dashboard metrics.
type Metrics struct {
	info          *prometheus.GaugeVec
	step          *prometheus.GaugeVec
	steps         *prometheus.GaugeVec
	weight        *prometheus.GaugeVec
	paused        *prometheus.GaugeVec
	value         *prometheus.GaugeVec
	threshold     *prometheus.GaugeVec
	checks        *prometheus.CounterVec
	stepDuration  *prometheus.HistogramVec
	finished      *prometheus.CounterVec
	rollback      *prometheus.HistogramVec
	notifications *prometheus.CounterVec
	mu            sync.Mutex
	infoLabels    map[string]prometheus.Labels // last info series of each rollout
	metricsOfRoll map[string]map[string]bool   // metric names with series, per rollout
}

var rl = []string{"namespace", "rollout"}

// New makes the metrics and registers them with reg. Registering twice
// (several managers in one test process) reuses the first collectors.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{infoLabels: map[string]prometheus.Labels{}, metricsOfRoll: map[string]map[string]bool{}}
	var err error
	gauge := func(name, help string, extra ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append(append([]string{}, rl...), extra...))
		return register(reg, g, &err)
	}
	m.info = gauge("ramp_rollout_info", "Rollout information; always 1.", "phase", "stable_color", "stable_revision", "canary_revision")
	m.step = gauge("ramp_rollout_step", "Index of the current step.")
	m.steps = gauge("ramp_rollout_steps", "Number of steps.")
	m.weight = gauge("ramp_rollout_canary_weight", "Percent of traffic on the canary.")
	m.paused = gauge("ramp_rollout_paused", "1 while the rollout is held by an annotation, a gate, a window or undecided checks.")
	m.value = gauge("ramp_analysis_value", "Last value of each analysis metric.", "metric")
	m.threshold = gauge("ramp_analysis_threshold", "Bound of each analysis metric.", "metric", "bound")
	m.checks = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ramp_analysis_checks_total", Help: "Checks by metric and result.",
	}, append(append([]string{}, rl...), "metric", "result")), &err)
	m.stepDuration = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ramp_rollout_step_duration_seconds", Help: "Time spent in each finished step.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	}, rl), &err)
	m.finished = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ramp_rollouts_finished_total", Help: "Finished rollouts by result (promoted, rolled_back).",
	}, append(append([]string{}, rl...), "result")), &err)
	m.rollback = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ramp_rollback_seconds", Help: "From the check that saw a breach to the route carrying 0% canary.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}, rl), &err)
	m.notifications = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ramp_notifications_total", Help: "Notifications to webhooks by result (sent, failed, dropped): one per moment and webhook.",
	}, []string{"result"}), &err)
	for _, r := range []string{"sent", "failed", "dropped"} {
		m.notifications.WithLabelValues(r).Add(0)
	}
	return m, err
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		*errp = errors.Join(*errp, err)
	}
	return c
}

func key(ns, name string) string { return ns + "/" + name }

// Observe sets the gauges of one rollout from its spec and decided status.
func (m *Metrics) Observe(ro *v1.Rollout, st *v1.RolloutStatus) {
	l := prometheus.Labels{"namespace": ro.Namespace, "rollout": ro.Name}
	info := prometheus.Labels{"namespace": ro.Namespace, "rollout": ro.Name, "phase": string(st.Phase),
		"stable_color": string(st.StableColor), "stable_revision": st.StableRevision, "canary_revision": st.CanaryRevision}
	k := key(ro.Namespace, ro.Name)
	m.mu.Lock()
	if old, ok := m.infoLabels[k]; ok && !equalLabels(old, info) {
		m.info.Delete(old)
	}
	m.infoLabels[k] = info
	m.mu.Unlock()
	m.info.With(info).Set(1)
	m.step.With(l).Set(float64(st.CurrentStep))
	m.steps.With(l).Set(float64(len(ro.Spec.EffectiveSteps())))
	m.weight.With(l).Set(float64(st.CanaryWeight))
	paused := 0.0
	if st.Phase == v1.PhasePaused {
		paused = 1
	}
	m.paused.With(l).Set(paused)
	// Counters and histograms start at zero, so that increase() and rate()
	// see the first promotion, rollback or check (a series born at 1 shows
	// no increase).
	for _, r := range []string{"promoted", "rolled_back"} {
		m.finished.With(prometheus.Labels{"namespace": ro.Namespace, "rollout": ro.Name, "result": r}).Add(0)
	}
	m.rollback.With(l)
	m.stepDuration.With(l)

	names := map[string]bool{}
	if ro.Spec.Analysis != nil {
		// The spec's metrics and those of the templates the revision
		// resolved (status.analysis.templates).
		for _, src := range plan.Metrics(&ro.Spec, st) {
			mt := src.Metric
			names[mt.Name] = true
			for _, r := range []v1.CheckPhase{v1.CheckPassed, v1.CheckFailed, v1.CheckInconclusive, v1.CheckError} {
				m.checks.With(withMetric(l, mt.Name, "result", strings.ToLower(string(r)))).Add(0)
			}
			if mt.Min != nil {
				m.threshold.With(withMetric(l, mt.Name, "bound", "min")).Set(*mt.Min)
			}
			if mt.Max != nil {
				m.threshold.With(withMetric(l, mt.Name, "bound", "max")).Set(*mt.Max)
			}
		}
	}
	if st.Analysis != nil {
		for _, ms := range st.Analysis.Metrics {
			if v, ok := parseValue(ms.Value); ok && names[ms.Name] {
				m.value.With(withMetric(l, ms.Name)).Set(v)
			}
		}
	}
	m.mu.Lock()
	for old := range m.metricsOfRoll[k] {
		if !names[old] {
			ml := withMetric(l, old)
			m.value.DeletePartialMatch(ml)
			m.threshold.DeletePartialMatch(ml)
			m.checks.DeletePartialMatch(ml)
		}
	}
	m.metricsOfRoll[k] = names
	m.mu.Unlock()
}

// Check counts one judged check.
func (m *Metrics) Check(ro *v1.Rollout, metric string, phase v1.CheckPhase) {
	m.checks.With(prometheus.Labels{"namespace": ro.Namespace, "rollout": ro.Name, "metric": metric, "result": strings.ToLower(string(phase))}).Inc()
}

// StepFinished records the time spent in a step.
func (m *Metrics) StepFinished(ro *v1.Rollout, d time.Duration) {
	m.stepDuration.With(prometheus.Labels{"namespace": ro.Namespace, "rollout": ro.Name}).Observe(d.Seconds())
}

// Finished counts a finished rollout: result is "promoted" or "rolled_back".
func (m *Metrics) Finished(ro *v1.Rollout, result string) {
	m.finished.With(prometheus.Labels{"namespace": ro.Namespace, "rollout": ro.Name, "result": result}).Inc()
}

// RolledBack records the time from the check that saw a breach to the route
// write that took the canary to 0 %.
func (m *Metrics) RolledBack(ro *v1.Rollout, d time.Duration) {
	m.rollback.With(prometheus.Labels{"namespace": ro.Namespace, "rollout": ro.Name}).Observe(d.Seconds())
}

// Notification counts one notification to one webhook: result is "sent",
// "failed" or "dropped".
func (m *Metrics) Notification(result string) {
	m.notifications.WithLabelValues(result).Inc()
}

// Forget removes every series of a deleted rollout.
func (m *Metrics) Forget(namespace, name string) {
	l := prometheus.Labels{"namespace": namespace, "rollout": name}
	m.info.DeletePartialMatch(l)
	m.step.DeletePartialMatch(l)
	m.steps.DeletePartialMatch(l)
	m.weight.DeletePartialMatch(l)
	m.paused.DeletePartialMatch(l)
	m.value.DeletePartialMatch(l)
	m.threshold.DeletePartialMatch(l)
	m.checks.DeletePartialMatch(l)
	m.stepDuration.DeletePartialMatch(l)
	m.finished.DeletePartialMatch(l)
	m.rollback.DeletePartialMatch(l)
	m.mu.Lock()
	delete(m.infoLabels, key(namespace, name))
	delete(m.metricsOfRoll, key(namespace, name))
	m.mu.Unlock()
}

func withMetric(l prometheus.Labels, metric string, extra ...string) prometheus.Labels {
	out := prometheus.Labels{"metric": metric}
	for k, v := range l {
		out[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		out[extra[i]] = extra[i+1]
	}
	return out
}

func equalLabels(a, b prometheus.Labels) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
