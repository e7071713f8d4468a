package main

import (
	"fmt"
	"math"
	"net/http"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the controller's metrics endpoint.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// counterSum adds up a counter family's series whose label key has one of
// values (all series when values is empty).
func counterSum(fams map[string]*dto.MetricFamily, name, key string, values ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	want := map[string]bool{}
	for _, v := range values {
		want[v] = true
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if len(want) > 0 {
			ok := false
			for _, l := range m.GetLabel() {
				if l.GetName() == key && want[l.GetValue()] {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		sum += m.GetCounter().GetValue()
	}
	return sum
}

// histQuantiles merges a histogram family's series for which keep holds
// and returns its count and the p50 and p99 estimated as PromQL's
// histogram_quantile does (linear within a bucket).
func histQuantiles(fams map[string]*dto.MetricFamily, name string, keep func(*dto.Metric) bool) (count uint64, p50, p99 float64) {
	f := fams[name]
	if f == nil {
		return 0, math.NaN(), math.NaN()
	}
	buckets := map[float64]uint64{}
	for _, m := range f.GetMetric() {
		if !keep(m) {
			continue
		}
		h := m.GetHistogram()
		count += h.GetSampleCount()
		for _, b := range h.GetBucket() {
			buckets[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	bounds := make([]float64, 0, len(buckets))
	for b := range buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	q := func(phi float64) float64 {
		if count == 0 {
			return math.NaN()
		}
		rank := phi * float64(count)
		lower, below := 0.0, uint64(0)
		for _, b := range bounds {
			c := buckets[b]
			if float64(c) >= rank {
				if c == below {
					return b
				}
				return lower + (b-lower)*(rank-float64(below))/float64(c-below)
			}
			lower, below = b, c
		}
		return math.Inf(1) // in the +Inf bucket
	}
	return count, q(0.5), q(0.99)
}
