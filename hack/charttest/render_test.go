package charttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ramp-dev/ramp/internal/testenv"
)

func deployment(t *testing.T, r *rendered) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.one(t, "Deployment").Object, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		n := o.GetName()
		if o.GetNamespace() != "" {
			n = o.GetNamespace() + "/" + n
		}
		out = append(out, n)
	}
	return out
}

func wantNames(t *testing.T, r *rendered, kind string, want ...string) {
	t.Helper()
	if got := names(r.find(kind)); !slices.Equal(got, want) {
		t.Errorf("%s objects: %q, want %q", kind, got, want)
	}
}

func hasArg(d *appsv1.Deployment, arg string) bool {
	return slices.Contains(d.Spec.Template.Spec.Containers[0].Args, arg)
}

func argWithPrefix(d *appsv1.Deployment, prefix string) string {
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, prefix) {
			return a
		}
	}
	return ""
}

// The defaults: two replicas with leader election, probes, requests, the
// restricted security context, cluster-wide RBAC, secure metrics behind a
// Service, a PodDisruptionBudget, the approval policy, and no ServiceMonitor
// or dashboard.
func TestRenderDefaults(t *testing.T) {
	r := render(t, chartDir(t), "ramp", "ramp-system", nil)
	for _, o := range r.Objects {
		switch o.GetKind() {
		case "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		default:
			if o.GetNamespace() != "ramp-system" {
				t.Errorf("%s %s is in namespace %q, want the release namespace", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		}
	}
	wantNames(t, r, "ServiceAccount", "ramp-system/ramp")
	wantNames(t, r, "ClusterRole", "ramp", "ramp-cluster-templates", "ramp-edit", "ramp-metrics-auth", "ramp-metrics-reader", "ramp-view")
	wantNames(t, r, "ClusterRoleBinding", "ramp", "ramp-cluster-templates", "ramp-metrics-auth")
	wantNames(t, r, "Role", "ramp-system/ramp-leader-election")
	wantNames(t, r, "RoleBinding", "ramp-system/ramp-leader-election")
	wantNames(t, r, "Service", "ramp-system/ramp-metrics")
	wantNames(t, r, "PodDisruptionBudget", "ramp-system/ramp")
	wantNames(t, r, "ServiceMonitor")
	wantNames(t, r, "ConfigMap")
	wantNames(t, r, "ValidatingAdmissionPolicy", "ramp-approvals")
	wantNames(t, r, "ValidatingAdmissionPolicyBinding", "ramp-approvals")

	d := deployment(t, r)
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
	for _, arg := range []string{"--leader-elect=true", "--leader-election-namespace=ramp-system", "--metrics-secure=true", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"} {
		if !hasArg(d, arg) {
			t.Errorf("args %q lack %s", d.Spec.Template.Spec.Containers[0].Args, arg)
		}
	}
	for _, prefix := range []string{"--namespaces", "--workers", "--metrics-cert-dir", "--notification-"} {
		if a := argWithPrefix(d, prefix); a != "" {
			t.Errorf("default args carry %s", a)
		}
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "ghcr.io/ramp-dev/ramp-controller:"+loadChart(t, chartDir(t)).Metadata.AppVersion {
		t.Errorf("image %q, want the repository at the chart's appVersion", c.Image)
	}
	if pod.ServiceAccountName != "ramp" {
		t.Errorf("serviceAccountName %q", pod.ServiceAccountName)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["health"] != 8081 || ports["metrics"] != 8080 {
		t.Errorf("container ports %v, want health 8081 and metrics 8080", ports)
	}
	for what, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != what || p.HTTPGet.Port.String() != "health" {
			t.Errorf("probe on %s: %+v", what, p)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("resource requests %v, want cpu and memory", c.Resources.Requests)
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || sc == nil:
		t.Fatalf("security contexts: pod %v container %v", psc, sc)
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot, sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("runAsNonRoot is not true")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("seccompProfile %v, want RuntimeDefault", psc.SeccompProfile)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %v, want drop ALL and add none", sc.Capabilities)
	case psc.RunAsUser == nil || *psc.RunAsUser != 65532:
		t.Errorf("runAsUser %v, want 65532 (distroless nonroot)", psc.RunAsUser)
	}
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		t.Error("two replicas without a pod anti-affinity")
	}

	// The Service and the PodDisruptionBudget select the controller pods.
	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(r.one(t, "Service").Object, &svc); err != nil {
		t.Fatal(err)
	}
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) || svc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
		t.Errorf("metrics Service selector %v port %v do not reach the pods %v", svc.Spec.Selector, svc.Spec.Ports, d.Spec.Template.Labels)
	}
	pdbSel, _, _ := unstructured.NestedStringMap(r.one(t, "PodDisruptionBudget").Object, "spec", "selector", "matchLabels")
	if !selects(pdbSel, d.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods %v", pdbSel, d.Spec.Template.Labels)
	}
	if !strings.Contains(r.Notes, "kubectl apply --server-side --force-conflicts -f charts/ramp/crds/") {
		t.Errorf("NOTES.txt does not say how to upgrade the CRDs:\n%s", r.Notes)
	}
	if got := strings.Join(names(r.CRDs), " "); got != "analysistemplates.ramp.dev clusteranalysistemplates.ramp.dev rollouts.ramp.dev verifications.ramp.dev" {
		t.Errorf("crds/ holds %s, want the AnalysisTemplate, ClusterAnalysisTemplate and Rollout CRDs", got)
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestRenderWatchNamespaces(t *testing.T) {
	r := render(t, chartDir(t), "ramp", "ramp-system", variants["watchNamespaces"])
	wantNames(t, r, "ClusterRole", "ramp-cluster-templates", "ramp-edit", "ramp-metrics-auth", "ramp-metrics-reader", "ramp-view")
	wantNames(t, r, "ClusterRoleBinding", "ramp-cluster-templates", "ramp-metrics-auth")
	wantNames(t, r, "Role", "ramp-system/ramp-leader-election", "team-a/ramp", "team-b/ramp")
	wantNames(t, r, "RoleBinding", "ramp-system/ramp-leader-election", "team-a/ramp", "team-b/ramp")
	if d := deployment(t, r); !hasArg(d, "--namespaces=team-a,team-b") {
		t.Errorf("args %q lack --namespaces=team-a,team-b", d.Spec.Template.Spec.Containers[0].Args)
	}
}

func TestRenderServiceMonitor(t *testing.T) {
	for name, secure := range map[string]bool{"serviceMonitor": true, "plain metrics": false} {
		t.Run(name, func(t *testing.T) {
			r := render(t, chartDir(t), "ramp", "ramp-system", variants[name])
			sm := r.one(t, "ServiceMonitor")
			svc := r.one(t, "Service")
			if sm.GetAPIVersion() != "monitoring.coreos.com/v1" {
				t.Errorf("apiVersion %s", sm.GetAPIVersion())
			}
			sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
			if !selects(sel, svc.GetLabels()) {
				t.Errorf("ServiceMonitor selector %v does not select the metrics Service %v", sel, svc.GetLabels())
			}
			eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
			ep, port := eps[0].(map[string]any), ports[0].(map[string]any)
			if ep["port"] != port["name"] {
				t.Errorf("ServiceMonitor scrapes port %v, the Service names %v", ep["port"], port["name"])
			}
			wantScheme := map[bool]string{true: "https", false: "http"}[secure]
			if ep["scheme"] != wantScheme || (ep["bearerTokenFile"] != nil) != secure || port["appProtocol"] != wantScheme {
				t.Errorf("endpoint %v and Service port %v for metrics.secure=%v", ep, port, secure)
			}
			if secure && sm.GetLabels()["release"] != "prometheus" {
				t.Errorf("serviceMonitor.labels not on the ServiceMonitor: %v", sm.GetLabels())
			}
			if !secure {
				wantNames(t, r, "ClusterRole", "ramp", "ramp-cluster-templates", "ramp-edit", "ramp-view")
				if d := deployment(t, r); !hasArg(d, "--metrics-secure=false") {
					t.Errorf("args %q lack --metrics-secure=false", d.Spec.Template.Spec.Containers[0].Args)
				}
			}
		})
	}
}

// The dashboard ConfigMap carries every dashboards/*.json file with the
// sidecar's label, and is not rendered while the folder holds none.
func TestRenderDashboard(t *testing.T) {
	dir := chartDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the chart's dashboards", func(t *testing.T) {
		r := render(t, dir, "ramp", "ramp-system", variants["dashboard"])
		if len(files) == 0 {
			wantNames(t, r, "ConfigMap")
			return
		}
		checkDashboards(t, r, "ramp-system", files)
	})
	t.Run("an empty folder", func(t *testing.T) {
		empty := copyChart(t, dir)
		for _, f := range files {
			if err := os.Remove(filepath.Join(empty, "dashboards", filepath.Base(f))); err != nil {
				t.Fatal(err)
			}
		}
		r := render(t, empty, "ramp", "ramp-system", variants["dashboard"])
		wantNames(t, r, "ConfigMap")
	})
	t.Run("two dashboards in Grafana's namespace", func(t *testing.T) {
		two := copyChart(t, dir)
		extra := filepath.Join(two, "dashboards", "zz-extra.json")
		if err := os.WriteFile(extra, []byte(`{"title": "extra", "panels": []}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := render(t, two, "ramp", "ramp-system", variants["everything set"])
		checkDashboards(t, r, "monitoring", append(files, extra))
		if got := r.one(t, "ConfigMap").GetAnnotations()["grafana_folder"]; got != "Ramp" {
			t.Errorf("grafana_folder annotation %q", got)
		}
	})
}

func checkDashboards(t *testing.T, r *rendered, namespace string, files []string) {
	t.Helper()
	cm := r.one(t, "ConfigMap")
	if cm.GetNamespace() != namespace || cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap %s/%s labels %v, want namespace %s and grafana_dashboard: \"1\"", cm.GetNamespace(), cm.GetName(), cm.GetLabels(), namespace)
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if len(data) != len(files) {
		t.Errorf("ConfigMap data keys %v, want one per file of %v", keys(data), files)
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := data[filepath.Base(f)]; strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			t.Errorf("ConfigMap key %s differs from %s", filepath.Base(f), f)
		}
	}
}

// copyChart copies the chart into a temporary folder.
func copyChart(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "ramp")
	if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRenderOneReplica(t *testing.T) {
	r := render(t, chartDir(t), "ramp", "ramp-system", variants["one replica"])
	d := deployment(t, r)
	if *d.Spec.Replicas != 1 || !hasArg(d, "--leader-elect=false") || argWithPrefix(d, "--leader-election-namespace") != "" {
		t.Errorf("replicas %d args %q, want 1 replica without leader election", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Args)
	}
	if d.Spec.Template.Spec.Affinity != nil {
		t.Errorf("one replica with an affinity %v", d.Spec.Template.Spec.Affinity)
	}
	wantNames(t, r, "Role")
	wantNames(t, r, "RoleBinding")
	wantNames(t, r, "PodDisruptionBudget")
}

func TestRenderEverythingSet(t *testing.T) {
	r := render(t, chartDir(t), "ramp", "ramp-system", variants["everything set"])
	d := deployment(t, r)
	c := d.Spec.Template.Spec.Containers[0]
	if want := "registry.example/ramp-controller@sha256:" + strings.Repeat("ab", 32); c.Image != want {
		t.Errorf("image %q, want %q", c.Image, want)
	}
	for _, arg := range []string{"--workers=16", "--notification-workers=8", "--notification-queue=1024", "--notification-timeout=5s", "--zap-log-level=debug", "--zap-encoder=console", "--zap-stacktrace-level=panic", "--metrics-cert-dir=/etc/ramp/metrics-certs"} {
		if !hasArg(d, arg) {
			t.Errorf("args %q lack %s", c.Args, arg)
		}
	}
	if len(c.VolumeMounts) != 1 || d.Spec.Template.Spec.Volumes[0].Secret.SecretName != "ramp-metrics-tls" {
		t.Errorf("metrics certificate Secret not mounted: %v %v", c.VolumeMounts, d.Spec.Template.Spec.Volumes)
	}
	if d.Spec.Template.Spec.ServiceAccountName != "ramp" {
		t.Errorf("serviceAccountName %q", d.Spec.Template.Spec.ServiceAccountName)
	}
	wantNames(t, r, "ClusterRoleBinding", "ramp", "ramp-cluster-templates", "ramp-metrics-auth", "ramp-metrics-reader")
}

// Every flag the chart passes is one ramp-controller knows: the real
// binary, built from this tree, parses the rendered args of every variant.
func TestArgsAreControllerFlags(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ramp-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ramp-controller")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ramp-controller: %v\n%s", err, out)
	}
	for name, vals := range variants {
		t.Run(name, func(t *testing.T) {
			r := render(t, chartDir(t), "ramp", "ramp-system", vals)
			args := append(deployment(t, r).Spec.Template.Spec.Containers[0].Args, "-help")
			// flag stops at the first bad flag (exit 2); -help after good ones exits 0.
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("ramp-controller %q: %v\n%s", args, err, out)
			}
		})
	}
}
