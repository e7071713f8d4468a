package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ProcessLabel on a pod names the binary whose real process decides how
// the pod ends: kwok makes it Running but never completes it (see
// stack.JobRunner, which runs the process and writes the pod's phase).
const ProcessLabel = "e2e.ramp.dev/process"

// With Options.PullImages, kwok makes a pod Ready only once it carries
// PulledAnnotation, and gives each container the imageID its annotation
// ImageIDAnnotationPrefix+<container name> names, as a kubelet reports the
// digest it pulled (see stack.Registry, which writes both). Without them a
// pod's imageID stays empty, as kwok leaves it.
const (
	PulledAnnotation        = "e2e.ramp.dev/pulled"
	ImageIDAnnotationPrefix = "e2e.ramp.dev/image-id."
)

// KwokNodeAnnotation marks the nodes kwok manages.
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// ControlPlane is a running local cluster.
type ControlPlane struct {
	// Dir holds the kubeconfig, kwok's configuration and every log.
	Dir string
	// Kubeconfig is the path of an admin (system:masters) kubeconfig.
	Kubeconfig string
	Config     *rest.Config
	Client     client.Client
	// FrontProxyCA signs the client certificate (FrontProxyUser) that
	// kube-apiserver presents to aggregated API servers.
	FrontProxyCA *CA
	env          *envtest.Environment
	procs        []*Proc
}

// Options say what to install.
type Options struct {
	// CRDPaths are CRD files or folders to install (e.g. config/crd and the
	// Gateway API CRDs).
	CRDPaths []string
	// Scheme for Client; the built-in kinds and Gateway API when nil.
	Scheme *runtime.Scheme
	// PullImages holds every pod Pending until something (stack.Registry)
	// annotates it PulledAnnotation, and makes kwok report the imageIDs
	// of its ImageIDAnnotationPrefix annotations.
	PullImages bool
}

// RepoRoot is the folder holding the module's go.mod.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the github.com/ramp-dev/ramp module")
	}
	return filepath.Dir(mod), nil
}

// Bin is the path of a tool built by hack/build-tools.sh, or an error saying
// how to build it.
func Bin(root, name string) (string, error) {
	p := filepath.Join(root, "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found in %s/bin: build it with `hack/build-tools.sh %s`", name, root, name)
	}
	return p, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start starts etcd and kube-apiserver (envtest), then kube-controller-manager,
// kube-scheduler and kwok as processes, and creates one fake node. Stop it
// with Stop, also when Start fails half way (Stop is safe on a partial start).
func Start(ctx context.Context, dir string, opts Options) (cp *ControlPlane, err error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if bins[name], err = Bin(root, name); err != nil {
			return nil, err
		}
	}
	stages, err := kwokStages(root, opts.PullImages)
	if err != nil {
		return nil, err
	}
	scheme := opts.Scheme
	if scheme == nil {
		scheme = runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			return nil, err
		}
		if err := gatewayv1.Install(scheme); err != nil {
			return nil, err
		}
	}
	cp = &ControlPlane{Dir: dir}
	cp.env = &envtest.Environment{
		BinaryAssetsDirectory: filepath.Join(root, "bin"),
		CRDDirectoryPaths:     opts.CRDPaths,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	if cp.FrontProxyCA, err = configureAggregator(cp.env, dir); err != nil {
		return nil, fmt.Errorf("front-proxy certificates: %w", err)
	}
	if cp.Config, err = cp.env.Start(); err != nil {
		return nil, fmt.Errorf("start etcd and kube-apiserver: %w", err)
	}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	user, err := cp.env.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return cp, fmt.Errorf("add the admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return cp, err
	}
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kc, 0o600); err != nil {
		return cp, err
	}
	if cp.Client, err = client.New(cp.Config, client.Options{Scheme: scheme}); err != nil {
		return cp, err
	}

	kcmPort, err := freePort()
	if err != nil {
		return cp, err
	}
	if err := cp.start("kube-controller-manager", bins["kube-controller-manager"],
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig,
		"--authorization-kubeconfig="+cp.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(dir, "kcm-certs"),
		// Only what Deployments, Services, deletions and autoscalers need; no
		// service account tokens (envtest runs without the ServiceAccount
		// admission). The node lifecycle controller lifts the not-ready taint
		// once kwok reports the node Ready.
		"--controllers=deployment-controller,replicaset-controller,job-controller,garbage-collector-controller,endpointslice-controller,namespace-controller,node-lifecycle-controller,horizontal-pod-autoscaler-controller",
		// The HPA controller reads the metrics APIs through kube-apiserver
		// (aggregated APIServices) with the admin kubeconfig above. Its
		// defaults (15 s syncs, a 5 m scale-down window) are for clusters;
		// scenarios want an answer within seconds.
		"--horizontal-pod-autoscaler-sync-period=2s",
		"--horizontal-pod-autoscaler-downscale-stabilization=5s",
	); err != nil {
		return cp, err
	}
	schedPort, err := freePort()
	if err != nil {
		return cp, err
	}
	if err := cp.start("kube-scheduler", bins["kube-scheduler"],
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig,
		"--authorization-kubeconfig="+cp.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(schedPort),
		"--cert-dir="+filepath.Join(dir, "scheduler-certs"),
	); err != nil {
		return cp, err
	}
	kwokPort, err := freePort()
	if err != nil {
		return cp, err
	}
	kwokCfg := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(kwokCfg, stages, 0o644); err != nil {
		return cp, err
	}
	if err := cp.start("kwok", bins["kwok"],
		"--kubeconfig="+cp.Kubeconfig,
		"--config="+kwokCfg,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KwokNodeAnnotation+"=fake",
		"--node-ip=127.0.0.1",
		"--cidr=10.0.0.1/24",
		"--server-address=127.0.0.1:"+strconv.Itoa(kwokPort),
	); err != nil {
		return cp, err
	}
	if err := cp.CreateNode(ctx, "kwok-node-0"); err != nil {
		return cp, err
	}
	return cp, nil
}

func (cp *ControlPlane) start(name, bin string, args ...string) error {
	p, err := StartProc(cp.Dir, name, bin, args...)
	if err != nil {
		return err
	}
	cp.procs = append(cp.procs, p)
	return nil
}

// Procs are the component processes started besides etcd and kube-apiserver.
func (cp *ControlPlane) Procs() []*Proc { return cp.procs }

// CreateNode creates a node that kwok manages (and makes Ready).
func (cp *ControlPlane) CreateNode(ctx context.Context, name string) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{KwokNodeAnnotation: "fake"},
			Labels:      map[string]string{"type": "kwok", corev1.LabelHostname: name},
		},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res},
	}
	if err := cp.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	return nil
}

// Stop stops the processes in reverse order of start, then kube-apiserver
// and etcd.
func (cp *ControlPlane) Stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].Stop()
	}
	cp.procs = nil
	if cp.env != nil {
		_ = cp.env.Stop()
	}
}

// kwokStages returns kwok's configuration: the stages kwokctl uses by default
// (node initialize and heartbeat, pod ready, complete and delete), read from
// the kwok module that hack/tools/kwok pins. With pull, pod-ready waits for
// PulledAnnotation and writes imageIDs (see PullImages).
func kwokStages(root string, pull bool) ([]byte, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok")
	cmd.Dir = filepath.Join(root, "hack", "tools", "kwok")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locate the kwok module from hack/tools/kwok: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "kustomize", "stage")
	var docs []string
	for _, f := range []string{
		"node/fast/node-initialize.yaml",
		"node/heartbeat/node-heartbeat.yaml",
		"pod/fast/pod-ready.yaml",
		"pod/fast/pod-complete.yaml",
		"pod/fast/pod-delete.yaml",
	} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("kwok stage: %w", err)
		}
		if f == "pod/fast/pod-complete.yaml" {
			// A pod labelled ProcessLabel ends when its real process does
			// (see stack.JobRunner), not as soon as kwok made it Running.
			const anchor = "    - key: '.metadata.deletionTimestamp'\n      operator: 'DoesNotExist'\n"
			if !strings.Contains(string(b), anchor) {
				return nil, fmt.Errorf("kwok stage %s: no deletionTimestamp selector to add to", f)
			}
			b = []byte(strings.Replace(string(b), anchor, anchor+"    - key: '.metadata.labels[\""+ProcessLabel+"\"]'\n      operator: 'DoesNotExist'\n", 1))
		}
		if f == "pod/fast/pod-ready.yaml" && pull {
			if b, err = pullingStage(b); err != nil {
				return nil, fmt.Errorf("kwok stage %s: %w", f, err)
			}
		}
		docs = append(docs, string(b))
	}
	return []byte(strings.Join(docs, "\n---\n")), nil
}

// pullingStage changes kwok's pod-ready stage to wait for PulledAnnotation
// and to report, in every container status, the imageID of the container's
// ImageIDAnnotationPrefix annotation.
func pullingStage(b []byte) ([]byte, error) {
	const anchor = "    - key: '.metadata.deletionTimestamp'\n      operator: 'DoesNotExist'\n"
	const status = "      - image: {{ .image | Quote }}\n        name: {{ .name | Quote }}\n"
	s := string(b)
	if !strings.Contains(s, anchor) || strings.Count(s, status) != 2 {
		return nil, errors.New("not the stage expected: no deletionTimestamp selector or not two container status templates")
	}
	s = strings.Replace(s, anchor, anchor+"    - key: '.metadata.annotations[\""+PulledAnnotation+"\"]'\n      operator: 'Exists'\n", 1)
	s = strings.ReplaceAll(s, status, status+"        imageID: {{ index $.metadata.annotations (printf \"%s%s\" \""+ImageIDAnnotationPrefix+"\" .name) | Quote }}\n")
	return []byte(s), nil
}
