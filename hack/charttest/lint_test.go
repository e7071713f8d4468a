package charttest

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// variants are the values the chart is linted, rendered and dry-run with.
var variants = map[string]map[string]any{
	"defaults":        nil,
	"watchNamespaces": {"watchNamespaces": []any{"team-a", "team-b"}},
	"serviceMonitor":  {"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}},
	"dashboard":       {"grafanaDashboard": map[string]any{"enabled": true}},
	"argocd":          {"argocd": map[string]any{"customizations": map[string]any{"enabled": true}}},
	"one replica":     {"replicas": 1, "leaderElection": map[string]any{"enabled": false}, "podDisruptionBudget": map[string]any{"enabled": false}},
	"plain metrics":   {"metrics": map[string]any{"secure": false}, "serviceMonitor": map[string]any{"enabled": true}},
	"everything set": {
		"image":            map[string]any{"repository": "registry.example/ramp-controller", "digest": "sha256:" + strings.Repeat("ab", 32)},
		"imagePullSecrets": []any{map[string]any{"name": "regcred"}},
		"workers":          16,
		"notifications":    map[string]any{"workers": 8, "queue": 1024, "timeout": "5s"},
		"logging":          map[string]any{"level": "debug", "encoder": "console"},
		"extraArgs":        []any{"--zap-stacktrace-level=panic"},
		"serviceAccount":   map[string]any{"name": "ramp", "annotations": map[string]any{"iam.example/role": "ramp"}},
		"metrics": map[string]any{
			"certSecret": "ramp-metrics-tls",
			"readers":    []any{map[string]any{"name": "prometheus-k8s", "namespace": "monitoring"}},
		},
		"priorityClassName": "system-cluster-critical",
		"nodeSelector":      map[string]any{"kubernetes.io/os": "linux"},
		"tolerations":       []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}},
		"podAnnotations":    map[string]any{"example.com/team": "platform"},
		"grafanaDashboard":  map[string]any{"enabled": true, "namespace": "monitoring", "annotations": map[string]any{"grafana_folder": "Ramp"}},
		"serviceMonitor":    map[string]any{"enabled": true, "interval": "15s", "scrapeTimeout": "10s"},
	},
}

// The chart lints clean with Helm's own linter (helm lint --strict) for its
// defaults and every variant: no message at warning or error level.
func TestLint(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range variants {
		t.Run(name, func(t *testing.T) {
			if vals == nil {
				vals = map[string]any{}
			}
			l := lint.AllWithKubeVersion(chartDir(t), vals, "ramp-system", kv)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

// Values that make no sense are refused with a clear message before
// anything reaches a cluster: by values.schema.json or by the templates.
func TestRefusedValues(t *testing.T) {
	for name, tc := range map[string]struct {
		vals map[string]any
		want string
	}{
		"a typo at the top":               {map[string]any{"replicaCount": 3}, "replicaCount"},
		"replicas as a string":            {map[string]any{"replicas": "two"}, "replicas"},
		"no replicas":                     {map[string]any{"replicas": 0}, "replicas"},
		"a mutable digest":                {map[string]any{"image": map[string]any{"digest": "latest"}}, "digest"},
		"a namespace that is no DNS name": {map[string]any{"watchNamespaces": []any{"Team_A"}}, "watchNamespaces"},
		"replicas without leader election": {
			map[string]any{"replicas": 2, "leaderElection": map[string]any{"enabled": false}},
			"replicas > 1 needs leaderElection.enabled",
		},
		"a ServiceMonitor without the Service": {
			map[string]any{"serviceMonitor": map[string]any{"enabled": true}, "metrics": map[string]any{"service": map[string]any{"enabled": false}}},
			"serviceMonitor.enabled needs metrics.service.enabled",
		},
		"no ServiceAccount name to use": {
			map[string]any{"serviceAccount": map[string]any{"create": false}},
			"serviceAccount.name is required",
		},
		"a flag that is not one":                     {map[string]any{"extraArgs": []any{"verbose"}}, "extraArgs"},
		"a notification timeout that is no duration": {map[string]any{"notifications": map[string]any{"timeout": "soon"}}, "timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tryRender(chartDir(t), "ramp", "ramp-system", tc.vals)
			if err == nil {
				t.Fatalf("rendered with %v; want an error naming %q", tc.vals, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}
