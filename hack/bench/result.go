package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Stats summarise durations in seconds.
type Stats struct {
	Count         int
	P50, P99, Max float64
}

func summarise(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{P50: math.NaN(), P99: math.NaN(), Max: math.NaN()}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		return ds[max(i, 0)].Seconds()
	}
	return Stats{Count: len(ds), P50: rank(0.5), P99: rank(0.99), Max: ds[len(ds)-1].Seconds()}
}

// Result is one size's figures.
type Result struct {
	N              int
	Date           string
	Interval       string
	ControllerArgs string
	Defaults       string // the controller's defaults of the flags that bear on speed
	Breaching      int
	Commit         string `json:",omitempty"` // commit the controller was built from; "+changes" when the tree (hack/bench aside) differs from it
	Hang           int    // -hang: Rollouts asking a Prometheus that never answers, in none of the other figures
	HangTimeout    string `json:",omitempty"` // their analysis.prometheus.timeout
	Finished       bool
	Note           string `json:",omitempty"`

	CreateSeconds, SetupSeconds, PatchSeconds, WaveSeconds float64

	StepLag      Stats // route at the new weight − (stored stepStartedAt + hold)
	StepLagRoute Stats // route at the new weight − (route at the previous weight + hold)
	PromoteLag   Stats // status promoted − (stored stepStartedAt of the last step + hold)
	Breach       Stats // route at 0 % − first breaching answer served
	BreachDue    Stats // route at 0 % − the breaching check due (stored stepStartedAt of the 25 % step + hold)
	RollbackHist struct {
		Count    uint64
		P50, P99 float64
	}

	PeakRSSMiB, SetupPeakRSSMiB, EndRSSMiB float64
	CPUSeconds, CPUWaveSeconds             float64
	APIServerCPUWave, EtcdCPUWave          float64

	APIRequestsWave           float64
	APIWritesWave             float64
	APIPerRolloutStep         float64
	APIWritesPerRolloutStep   float64
	ChecksWave                float64
	QueriesBeforeWave         int
	QueriesPerRolloutPromoted float64
	QueriesPerRolloutRolled   float64
	QueriesPerInterval        Stats // queries per rollout per metric ÷ intervals in flight (rounded; not durations)
	ReadierWrites             int

	Promoted, RolledBack, Stuck, Unscripted int

	HangQueries, HangPromoted, HangRolledBack int // queries the hanging Prometheus received in the wave; -hang Rollouts promoted, rolled back

	LoadStart, LoadWaveStart, LoadEnd [3]float64
}

// MarshalJSON writes NaN as null.
func (s Stats) MarshalJSON() ([]byte, error) {
	f := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	return json.Marshal(map[string]any{"Count": s.Count, "P50": f(s.P50), "P99": f(s.P99), "Max": f(s.Max)})
}

// UnmarshalJSON reads null as NaN.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var m struct {
		Count         int
		P50, P99, Max *float64
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	g := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*s = Stats{Count: m.Count, P50: g(m.P50), P99: g(m.P99), Max: g(m.Max)}
	return nil
}

// analyse turns what the recorder and the scripted Prometheus saw into figures.
func (r *Result) analyse(c config, rec *recorder, p *prom, breachers map[string]bool) {
	queries, before, firstFail := p.snapshot()
	r.QueriesBeforeWave = before
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var lag, lagRoute, promote, breach, breachDue, perInterval []time.Duration
	var qPromoted, qRolled, nPromoted, nRolled float64
	step25 := int32(-1)
	for i, w := range defaultWeights {
		if w == 25 {
			step25 = int32(i)
		}
	}
	for name, t := range rec.tracks {
		if isHang(name) {
			continue
		}
		seen := map[int32]time.Time{}
		for _, w := range t.routes {
			if _, ok := seen[w.Weight]; !ok {
				seen[w.Weight] = w.At
			}
		}
		for i := 1; i < len(defaultWeights); i++ {
			at, ok := seen[defaultWeights[i]]
			if !ok {
				continue
			}
			if s, ok := t.stepStart[int32(i-1)]; ok {
				lag = append(lag, at.Sub(s.Add(c.interval)))
			}
			if prev, ok := seen[defaultWeights[i-1]]; ok {
				lagRoute = append(lagRoute, at.Sub(prev.Add(c.interval)))
			}
		}
		last := int32(len(defaultWeights) - 1)
		if s, ok := t.stepStart[last]; ok && !t.promotedAt.IsZero() {
			promote = append(promote, t.promotedAt.Sub(s.Add(c.interval)))
		}
		zeroAt, rolled := seen[0]
		if f, ok := firstFail[name]; ok && rolled {
			breach = append(breach, zeroAt.Sub(f))
			if s, ok := t.stepStart[step25]; ok {
				breachDue = append(breachDue, zeroAt.Sub(s.Add(c.interval)))
			}
		}
		// Queries per interval in flight: from the first weight to the end.
		q := float64(queries[name+"/"+benchMetric])
		first, ok := seen[defaultWeights[0]]
		var endAt time.Time
		switch {
		case t.phase == "Healthy" && t.stableColor == "green":
			endAt = t.promotedAt
			r.Promoted++
			qPromoted += q
			nPromoted++
			if breachers[name] {
				r.Unscripted++
			}
		case t.phase == "RolledBack":
			endAt = zeroAt
			r.RolledBack++
			qRolled += q
			nRolled++
			if !breachers[name] {
				r.Unscripted++
			}
		default:
			r.Stuck++
		}
		if c.trace == name {
			fmt.Fprintf(os.Stderr, "trace %s: phase %s routes %v stepStart %v promoted %v queries %v firstFail %v\n", name, t.phase, t.routes, t.stepStart, t.promotedAt, q, firstFail[name])
		}
		if ok && !endAt.IsZero() {
			intervals := math.Max(1, math.Round(float64(endAt.Sub(first))/float64(c.interval)))
			// Stored as a Duration of "seconds" to reuse summarise.
			perInterval = append(perInterval, time.Duration(q/intervals*float64(time.Second)))
		}
	}
	r.StepLag, r.StepLagRoute, r.PromoteLag, r.Breach = summarise(lag), summarise(lagRoute), summarise(promote), summarise(breach)
	r.BreachDue = summarise(breachDue)
	r.QueriesPerInterval = summarise(perInterval)
	if nPromoted > 0 {
		r.QueriesPerRolloutPromoted = qPromoted / nPromoted
	}
	if nRolled > 0 {
		r.QueriesPerRolloutRolled = qRolled / nRolled
	}
}

// apiRequests takes the controller's client requests and checks during the wave.
func (r *Result) apiRequests(base, end map[string]*dto.MetricFamily) {
	const reqs = "rest_client_requests_total"
	r.APIRequestsWave = counterSum(end, reqs, "") - counterSum(base, reqs, "")
	writes := []string{"POST", "PUT", "PATCH", "DELETE"}
	r.APIWritesWave = counterSum(end, reqs, "method", writes...) - counterSum(base, reqs, "method", writes...)
	steps := float64(r.N * len(defaultWeights))
	r.APIPerRolloutStep = r.APIRequestsWave / steps
	r.APIWritesPerRolloutStep = r.APIWritesWave / steps
	r.ChecksWave = counterSum(end, "ramp_analysis_checks_total", "") - counterSum(base, "ramp_analysis_checks_total", "")
	// The -hang Rollouts' own rollbacks, if any, are not counted.
	r.RollbackHist.Count, r.RollbackHist.P50, r.RollbackHist.P99 = histQuantiles(end, "ramp_rollback_seconds", func(m *dto.Metric) bool {
		for _, l := range m.GetLabel() {
			if l.GetName() == "rollout" && isHang(l.GetValue()) {
				return false
			}
		}
		return true
	})
	if r.RollbackHist.Count == 0 || math.IsInf(r.RollbackHist.P99, 0) {
		r.RollbackHist.P50, r.RollbackHist.P99 = -1, -1 // none, or past the last bucket: shown as such
	}
}

// key names a result: its size, the hanging Rollouts beside it and the
// controller flags it ran with.
func (r *Result) key() string {
	k := strconv.Itoa(r.N)
	if r.Hang > 0 {
		k += " -hang " + strconv.Itoa(r.Hang)
	}
	return strings.TrimSpace(k + " " + r.ControllerArgs)
}

// commitOf is the short commit of the tree at root, with "+changes" when
// anything outside hack/bench differs from it.
func commitOf(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	cmd := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)hack/bench")
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0") // only look: others may be using the index
	st, err := cmd.Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += "+changes"
	}
	return commit
}

func loadResults(path string) (map[string]*Result, error) {
	all := map[string]*Result{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return all, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	return all, nil
}

func saveResults(path string, all map[string]*Result) error {
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
