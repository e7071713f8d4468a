package kustomize_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rampv1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// built is one overlay's output.
type built struct {
	rollout    rampv1.Rollout
	configMaps []string // names of the ConfigMaps
	secrets    []string
	objects    []*unstructured.Unstructured
	yaml       []byte
}

// build runs `kustomize build dir` on the file system fs. The OpenAPI schema
// is global in kyaml; each build starts from none, as a new kustomize
// process would.
func build(t *testing.T, fs filesys.FileSystem, dir string) built {
	t.Helper()
	openapi.ResetOpenAPI()
	t.Cleanup(openapi.ResetOpenAPI)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return parse(t, rm)
}

func parse(t *testing.T, rm resmap.ResMap) built {
	t.Helper()
	var b built
	var err error
	if b.yaml, err = rm.AsYaml(); err != nil {
		t.Fatal(err)
	}
	rollouts := 0
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		b.objects = append(b.objects, u)
		switch u.GetKind() {
		case "Rollout":
			rollouts++
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, &b.rollout, true); err != nil {
				t.Fatalf("the built Rollout is not a Rollout: %v", err)
			}
		case "ConfigMap":
			b.configMaps = append(b.configMaps, u.GetName())
		case "Secret":
			b.secrets = append(b.secrets, u.GetName())
		}
	}
	if rollouts != 1 || len(b.configMaps) != 1 || len(b.secrets) != 1 {
		t.Fatalf("built %d Rollouts, ConfigMaps %q, Secrets %q; want one of each", rollouts, b.configMaps, b.secrets)
	}
	return b
}

func example(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("example")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func container(t *testing.T, r rampv1.Rollout, name string) corev1.Container {
	t.Helper()
	for _, c := range r.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s in %+v", name, r.Spec.Template.Spec.Containers)
	return corev1.Container{}
}

// Every place of the Rollout that names the ConfigMap or the Secret, by
// where it is ("<missing>" when a patch took it away).
func configMapRefs(r rampv1.Rollout) map[string]string {
	refs := map[string]string{}
	put := func(where string, ok bool, name func() string) {
		refs[where] = "<missing>"
		if ok {
			refs[where] = name()
		}
	}
	s := r.Spec.Template.Spec
	v := volumes(r)
	put("volumes[config].configMap", v["config"].ConfigMap != nil, func() string { return v["config"].ConfigMap.Name })
	put("volumes[bundle].projected[0]", v["bundle"].Projected != nil, func() string { return v["bundle"].Projected.Sources[0].ConfigMap.Name })
	put("containers[shop].envFrom[0]", len(s.Containers) > 0 && len(s.Containers[0].EnvFrom) > 0, func() string { return s.Containers[0].EnvFrom[0].ConfigMapRef.Name })
	put("configRefs[0] (kind: ConfigMap)", len(r.Spec.ConfigRefs) > 0, func() string { return r.Spec.ConfigRefs[0].Name })
	return refs
}

func secretRefs(r rampv1.Rollout) map[string]string {
	refs := map[string]string{}
	put := func(where string, ok bool, name func() string) {
		refs[where] = "<missing>"
		if ok {
			refs[where] = name()
		}
	}
	s := r.Spec.Template.Spec
	v := volumes(r)
	put("volumes[db].secret", v["db"].Secret != nil, func() string { return v["db"].Secret.SecretName })
	put("volumes[bundle].projected[1]", v["bundle"].Projected != nil, func() string { return v["bundle"].Projected.Sources[1].Secret.Name })
	put("containers[shop].env[DB_PASSWORD]", len(s.Containers) > 0 && len(s.Containers[0].Env) > 0, func() string { return s.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name })
	put("configRefs[1] (kind: Secret)", len(r.Spec.ConfigRefs) > 1, func() string { return r.Spec.ConfigRefs[1].Name })
	return refs
}

func volumes(r rampv1.Rollout) map[string]corev1.Volume {
	out := map[string]corev1.Volume{}
	for _, v := range r.Spec.Template.Spec.Volumes {
		out[v.Name] = v
	}
	return out
}

const digest = "sha256:3f1c8a0b9d2e4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a"

var overlays = []struct {
	env, namespace, image string
}{
	{"dev", "shop-dev", "registry.example/shop:v1.5.0"},
	{"staging", "shop-staging", "registry.example/shop:v1.4.3"},
	{"prod", "shop-prod", "registry.example/shop:v1.4.3@" + digest},
}

// The example overlays with Ramp's component in the base: each
// environment's newTag (prod's digest) reaches the Rollout's container, the
// generated ConfigMap's and Secret's hashed names reach every reference
// including spec.configRefs, the base's selector labels reach the selector
// and the template, each overlay's labels the template but not the
// (immutable) selector, and prod's patch of one container's resources
// merges into the base's containers.
func TestOverlays(t *testing.T) {
	fs := filesys.MakeFsOnDisk()
	for _, o := range overlays {
		t.Run(o.env, func(t *testing.T) {
			b := build(t, fs, filepath.Join(example(t), "overlays", o.env))
			r := b.rollout
			if r.Namespace != o.namespace {
				t.Errorf("namespace %q, want %q", r.Namespace, o.namespace)
			}
			if got := container(t, r, "shop").Image; got != o.image {
				t.Errorf("shop's image %q, want %q", got, o.image)
			}
			if got := container(t, r, "proxy").Image; got != "registry.example/proxy:v2.0.1" {
				t.Errorf("proxy's image %q, want it left alone", got)
			}
			cm, sec := b.configMaps[0], b.secrets[0]
			if !strings.HasPrefix(cm, "shop-config-") || !strings.HasPrefix(sec, "db-") {
				t.Fatalf("generated %s and %s, want hashed names", cm, sec)
			}
			for where, name := range configMapRefs(r) {
				if name != cm {
					t.Errorf("%s names %q, want the generated %q", where, name, cm)
				}
			}
			for where, name := range secretRefs(r) {
				if name != sec {
					t.Errorf("%s names %q, want the generated %q", where, name, sec)
				}
			}
			wantSelector := map[string]string{"app": "shop", "app.kubernetes.io/name": "shop"}
			if got := r.Spec.Selector.MatchLabels; !reflect.DeepEqual(got, wantSelector) {
				t.Errorf("selector %v, want %v", got, wantSelector)
			}
			wantTemplate := map[string]string{"app": "shop", "app.kubernetes.io/name": "shop", "env": o.env}
			if got := r.Spec.Template.Labels; !reflect.DeepEqual(got, wantTemplate) {
				t.Errorf("template labels %v, want %v", got, wantTemplate)
			}
			if r.Spec.TrafficRouting.GatewayAPI.HTTPRoutes[0].Name != "shop" {
				t.Errorf("httpRoutes %v", r.Spec.TrafficRouting.GatewayAPI.HTTPRoutes)
			}
			shop := container(t, r, "shop")
			cpu := shop.Resources.Requests[corev1.ResourceCPU]
			if o.env != "prod" {
				if r.Spec.Replicas != nil || cpu.String() != "100m" {
					t.Errorf("replicas %v, shop's cpu request %s: want the base's", r.Spec.Replicas, cpu.String())
				}
				return
			}
			// prod: the patch set resources, the rest of the container and
			// the other container are the base's.
			wantRes := corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			}
			if !equalResources(shop.Resources, wantRes) {
				t.Errorf("shop's resources %v, want the patch's %v", shop.Resources, wantRes)
			}
			if len(r.Spec.Template.Spec.Containers) != 2 || len(shop.Env) != 1 || len(shop.EnvFrom) != 1 || len(shop.VolumeMounts) != 2 || len(shop.Ports) != 1 {
				t.Errorf("the patch replaced more than resources: %+v", r.Spec.Template.Spec.Containers)
			}
			if r.Spec.Replicas == nil || *r.Spec.Replicas != 6 {
				t.Errorf("replicas %v, want 6", r.Spec.Replicas)
			}
			if r.Spec.Template.Annotations["team"] != "payments" || r.Annotations["team"] != "payments" {
				t.Errorf("annotations %v, template %v: want team=payments on both", r.Annotations, r.Spec.Template.Annotations)
			}
			if testing.Verbose() {
				t.Logf("kustomize build config/kustomize/example/overlays/prod:\n%s", b.yaml)
			}
		})
	}
}

func equalResources(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || v.Cmp(w) != 0 {
				return false
			}
		}
		return true
	}
	return eq(a.Requests, b.Requests) && eq(a.Limits, b.Limits)
}

// Each overlay's ConfigMap content differs where the overlay merged into it
// (dev's LOG_LEVEL=debug), and so its name, which the Rollout follows: a
// config change per environment is a new pod template, hence a canary.
func TestConfigHashPerEnvironment(t *testing.T) {
	fs := filesys.MakeFsOnDisk()
	names := map[string]string{}
	for _, o := range overlays {
		b := build(t, fs, filepath.Join(example(t), "overlays", o.env))
		names[o.env] = b.configMaps[0]
		if got := b.rollout.Spec.ConfigRefs[0].Name; got != b.configMaps[0] {
			t.Errorf("%s: configRefs[0] %q, ConfigMap %q", o.env, got, b.configMaps[0])
		}
	}
	if names["dev"] == names["prod"] || names["staging"] != names["prod"] {
		t.Errorf("ConfigMaps %v: want dev's alone to differ", names)
	}
}

// copyExample copies the example overlays and the component into a
// temporary folder and lets edit change files there.
func copyExample(t *testing.T, edit func(dir string)) string {
	t.Helper()
	src, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, sub := range []string{"component", "example"} {
		err := filepath.Walk(filepath.Join(src, sub), func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if info.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	edit(dst)
	return dst
}

func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The same overlays without the component: what kustomize does to a kind it
// does not know. The image is set all the same (kustomize's image
// fieldSpecs name no kind), but the references keep the names the
// generators replaced, the labels miss the selector and the template, prod's
// replicas fail the build, and without them prod's patch replaces the whole
// container list with its one partial container.
func TestOverlaysWithoutComponent(t *testing.T) {
	dir := copyExample(t, func(dir string) {
		rewrite(t, filepath.Join(dir, "example", "base", "kustomization.yaml"), "components:\n- ../../component\n", "")
	})
	fs := filesys.MakeFsOnDisk()
	prod := filepath.Join(dir, "example", "overlays", "prod")
	openapi.ResetOpenAPI()
	_, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, prod)
	if err == nil || !strings.Contains(err.Error(), "resource with name shop does not match a config") {
		t.Errorf("prod's replicas without the component: %v, want kustomize's refusal", err)
	}
	rewrite(t, filepath.Join(prod, "kustomization.yaml"), "replicas:\n- name: shop\n  count: 6\n", "")
	for _, o := range overlays {
		t.Run(o.env, func(t *testing.T) {
			b := build(t, fs, filepath.Join(dir, "example", "overlays", o.env))
			r := b.rollout
			for where, name := range configMapRefs(r) {
				if name != "shop-config" && !(o.env == "prod" && strings.HasPrefix(where, "containers")) {
					t.Errorf("%s names %q, want the base's shop-config unchanged", where, name)
				}
			}
			for where, name := range secretRefs(r) {
				if name != "db" && !(o.env == "prod" && strings.HasPrefix(where, "containers")) {
					t.Errorf("%s names %q, want the base's db unchanged", where, name)
				}
			}
			if b.configMaps[0] == "shop-config" || b.secrets[0] == "db" {
				t.Errorf("generated %s, %s: want hashed names", b.configMaps[0], b.secrets[0])
			}
			if got := r.Spec.Selector.MatchLabels; !reflect.DeepEqual(got, map[string]string{"app": "shop"}) {
				t.Errorf("selector %v, want the base's alone", got)
			}
			if got := r.Spec.Template.Labels; !reflect.DeepEqual(got, map[string]string{"app": "shop"}) {
				t.Errorf("template labels %v, want the base's alone", got)
			}
			if o.env != "prod" {
				if got := container(t, r, "shop").Image; got != o.image {
					t.Errorf("shop's image %q, want %q", got, o.image)
				}
				return
			}
			cs := r.Spec.Template.Spec.Containers
			if len(cs) != 1 || cs[0].Name != "shop" || cs[0].Image != "" || len(cs[0].Env) != 0 {
				t.Errorf("containers %+v: want the patch's one container, without image or env", cs)
			}
			if _, ok := r.Spec.Template.Annotations["team"]; ok {
				t.Error("the template has commonAnnotations")
			}
		})
	}
}

// kustomize reads a custom schema instead of its built-in one: the
// component's schema carries the built-in definitions, so that a
// Deployment's patch beside a Rollout still merges its containers.
func TestDeploymentBesideTheComponent(t *testing.T) {
	dir := copyExample(t, func(dir string) {
		app := filepath.Join(dir, "app")
		files := map[string]string{
			"kustomization.yaml": "resources: [deployment.yaml, ../example/base]\npatches: [{path: patch.yaml}]\n",
			"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "web:v1", resources: {limits: {cpu: "1"}}}
      - {name: side, image: "side:v1"}
`,
			"patch.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - {name: web, resources: {limits: {cpu: "2"}}}
`,
		}
		if err := os.MkdirAll(app, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	openapi.ResetOpenAPI()
	t.Cleanup(openapi.ResetOpenAPI)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rm.Resources() {
		if r.GetKind() != "Deployment" {
			continue
		}
		var d struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		m, _ := r.Map()
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &d); err != nil {
			t.Fatal(err)
		}
		cs := d.Spec.Template.Spec.Containers
		if len(cs) != 2 || cs[0].Image != "web:v1" || cs[0].Resources.Limits.Cpu().String() != "2" {
			t.Errorf("Deployment's containers %+v: want web:v1 with cpu 2 and side", cs)
		}
		return
	}
	t.Fatal("no Deployment built")
}

// With namePrefix the Rollout's name changes, and with it the names of the
// color Services Ramp creates (<rollout>-blue, -green). The route reference
// and an HPA's and a KEDA ScaledObject's target follow; the route's backendRefs name Services kustomize
// does not build, so they keep the base's names: a prefixed overlay must
// patch them (the README says so).
func TestNamePrefix(t *testing.T) {
	dir := copyExample(t, func(dir string) {
		eu := filepath.Join(dir, "example", "overlays", "eu")
		if err := os.MkdirAll(eu, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			"kustomization.yaml": "namePrefix: eu-\nresources: [../../base, hpa.yaml, scaledobject.yaml]\n",
			"scaledobject.yaml": `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: shop}
spec:
  scaleTargetRef: {apiVersion: ramp.dev/v1alpha1, kind: Rollout, name: shop}
`,
			"hpa.yaml": `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: shop}
spec:
  scaleTargetRef: {apiVersion: ramp.dev/v1alpha1, kind: Rollout, name: shop}
  minReplicas: 2
  maxReplicas: 20
`,
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(eu, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	openapi.ResetOpenAPI()
	t.Cleanup(openapi.ResetOpenAPI)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "example", "overlays", "eu"))
	if err != nil {
		t.Fatal(err)
	}
	hpa, err := rm.GetById(resmapID(t, rm, "HorizontalPodAutoscaler"))
	if err != nil {
		t.Fatal(err)
	}
	target, _ := hpa.GetString("spec.scaleTargetRef.name")
	so, err := rm.GetById(resmapID(t, rm, "ScaledObject"))
	if err != nil {
		t.Fatal(err)
	}
	soTarget, _ := so.GetString("spec.scaleTargetRef.name")
	route, err := rm.GetById(resmapID(t, rm, "HTTPRoute"))
	if err != nil {
		t.Fatal(err)
	}
	backend, _ := route.GetString("spec.rules[0].backendRefs[0].name")
	for _, id := range []resid.ResId{hpa.CurId(), so.CurId()} {
		if err := rm.Remove(id); err != nil {
			t.Fatal(err)
		}
	}
	b := parse(t, rm)
	if soTarget != "eu-shop" {
		t.Errorf("ScaledObject's target %s, want eu-shop", soTarget)
	}
	if b.rollout.Name != "eu-shop" || target != "eu-shop" || b.rollout.Spec.TrafficRouting.GatewayAPI.HTTPRoutes[0].Name != "eu-shop" || route.GetName() != "eu-shop" {
		t.Errorf("Rollout %s, HPA target %s, httpRoutes %v, route %s: want eu-shop everywhere",
			b.rollout.Name, target, b.rollout.Spec.TrafficRouting.GatewayAPI.HTTPRoutes, route.GetName())
	}
	if backend != "shop-blue" {
		t.Errorf("backendRefs[0] %q: kustomize renamed a Service it does not build?", backend)
	}

	// The README's fix: the overlay patches the two backendRefs.
	eu := filepath.Join(dir, "example", "overlays", "eu")
	rewrite(t, filepath.Join(eu, "kustomization.yaml"), "namePrefix: eu-\n", "namePrefix: eu-\n"+backendRefsPatch)
	openapi.ResetOpenAPI()
	rm, err = krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), eu)
	if err != nil {
		t.Fatal(err)
	}
	if route, err = rm.GetById(resmapID(t, rm, "HTTPRoute")); err != nil {
		t.Fatal(err)
	}
	blue, _ := route.GetString("spec.rules[0].backendRefs[0].name")
	green, _ := route.GetString("spec.rules[0].backendRefs[1].name")
	if blue != "eu-shop-blue" || green != "eu-shop-green" {
		t.Errorf("patched backendRefs %s, %s: want eu-shop-blue, eu-shop-green", blue, green)
	}
}

const backendRefsPatch = `patches:
- target: {kind: HTTPRoute, name: shop}
  patch: |-
    - {op: replace, path: /spec/rules/0/backendRefs/0/name, value: eu-shop-blue}
    - {op: replace, path: /spec/rules/0/backendRefs/1/name, value: eu-shop-green}
`

func resmapID(t *testing.T, rm resmap.ResMap, kind string) resid.ResId {
	t.Helper()
	for _, r := range rm.Resources() {
		if r.GetKind() == kind {
			return r.CurId()
		}
	}
	t.Fatalf("no %s built", kind)
	return resid.ResId{}
}

// The overlays' Rollouts, routes, ConfigMaps and Secrets are accepted by a
// real API server with Ramp's CRD, and the Rollout read back is the one
// built.
func TestAPIServerAcceptsTheOverlays(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	fs := filesys.MakeFsOnDisk()
	for _, o := range overlays {
		b := build(t, fs, filepath.Join(example(t), "overlays", o.env))
		ns := &corev1.Namespace{}
		ns.Name = o.namespace
		if err := env.Client.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		for _, u := range b.objects {
			if err := env.Client.Create(ctx, u); err != nil {
				t.Errorf("%s: create %s %s: %v", o.env, u.GetKind(), u.GetName(), err)
			}
		}
		var got rampv1.Rollout
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: "shop"}, &got); err != nil {
			t.Fatal(err)
		}
		if img := container(t, got, "shop").Image; img != o.image {
			t.Errorf("%s: the API server holds image %q, want %q", o.env, img, o.image)
		}
		if got.Spec.ConfigRefs[0].Name != b.configMaps[0] {
			t.Errorf("%s: the API server holds configRefs %v", o.env, got.Spec.ConfigRefs)
		}
	}
}

// The other references the component teaches kustomize, under a namePrefix
// and generators: image pull and Prometheus token Secrets, the
// ServiceAccount, a GRPCRoute and a migrated Deployment (workloadRef).
func TestNameReferences(t *testing.T) {
	dir := copyExample(t, func(dir string) {
		app := filepath.Join(dir, "refs")
		files := map[string]string{
			"kustomization.yaml": `namePrefix: eu-
components: [../component]
resources: [objects.yaml]
secretGenerator:
- {name: pull, type: kubernetes.io/dockerconfigjson, literals: ['.dockerconfigjson={"auths":{}}']}
- {name: prom-token, literals: [token=t]}
`,
			"objects.yaml": `apiVersion: ramp.dev/v1alpha1
kind: Rollout
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      serviceAccountName: api
      imagePullSecrets: [{name: pull}]
      containers: [{name: api, image: "registry.example/api:v1"}]
  service: {port: 80}
  trafficRouting: {gatewayAPI: {grpcRoutes: [{name: api}]}}
  analysis:
    prometheus: {address: "http://prometheus:9090", bearerTokenSecretRef: {name: prom-token, key: token}}
    metrics: [{name: errors, query: "0", max: 1}]
---
apiVersion: ramp.dev/v1alpha1
kind: Rollout
metadata: {name: legacy}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: legacy}
  selector: {matchLabels: {app: legacy}}
  service: {port: 80}
  trafficRouting: {gatewayAPI: {httpRoutes: [{name: legacy}]}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: api}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy}
spec:
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: legacy, image: "registry.example/legacy:v1"}]
`,
		}
		if err := os.MkdirAll(app, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	openapi.ResetOpenAPI()
	t.Cleanup(openapi.ResetOpenAPI)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "refs"))
	if err != nil {
		t.Fatal(err)
	}
	rollouts := map[string]rampv1.Rollout{}
	names := map[string]string{} // kind/base name -> built name
	for _, r := range rm.Resources() {
		base := strings.TrimPrefix(r.GetName(), "eu-")
		if r.GetKind() == "Secret" {
			base = base[:strings.LastIndex(base, "-")] // the hash
		}
		names[r.GetKind()+"/"+base] = r.GetName()
		if r.GetKind() == "Rollout" {
			m, _ := r.Map()
			var ro rampv1.Rollout
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, &ro, true); err != nil {
				t.Fatal(err)
			}
			rollouts[ro.Name] = ro
		}
	}
	api, legacy := rollouts["eu-api"], rollouts["eu-legacy"]
	if api.Spec.Analysis == nil || api.Spec.TrafficRouting.GatewayAPI == nil || legacy.Spec.WorkloadRef == nil || len(api.Spec.Template.Spec.ImagePullSecrets) != 1 {
		t.Fatalf("built Rollouts %v", rollouts)
	}
	for _, c := range []struct{ where, got, want string }{
		{"imagePullSecrets[0]", api.Spec.Template.Spec.ImagePullSecrets[0].Name, names["Secret/pull"]},
		{"analysis.prometheus.bearerTokenSecretRef", api.Spec.Analysis.Prometheus.BearerTokenSecretRef.Name, names["Secret/prom-token"]},
		{"serviceAccountName", api.Spec.Template.Spec.ServiceAccountName, names["ServiceAccount/api"]},
		{"grpcRoutes[0]", api.Spec.TrafficRouting.GatewayAPI.GRPCRoutes[0].Name, names["GRPCRoute/api"]},
		{"workloadRef", legacy.Spec.WorkloadRef.Name, names["Deployment/legacy"]},
	} {
		if c.got != c.want || !strings.HasPrefix(c.want, "eu-") {
			t.Errorf("%s names %q, want the built %q", c.where, c.got, c.want)
		}
	}
}
