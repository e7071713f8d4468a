// Package manager assembles Ramp's controller manager: the scheme, the
// Rollout reconciler with its router and Prometheus providers, and the
// health probes. cmd/ramp-controller and the envtest suites both use it, so
// tests run the controller exactly as it ships.
package manager

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/controllers"
	"github.com/ramp-dev/ramp/internal/fresh"
	"github.com/ramp-dev/ramp/internal/metrics"
	"github.com/ramp-dev/ramp/notify"
	"github.com/ramp-dev/ramp/traffic"
)

// Options configure the manager.
type Options struct {
	// MetricsBindAddress serves metrics; "0" turns them off.
	MetricsBindAddress string
	// MetricsSecure serves metrics over HTTPS, each request authenticated
	// (TokenReview) and authorized (SubjectAccessReview on GET /metrics)
	// by the API server, as kubebuilder projects do. Plain HTTP otherwise.
	MetricsSecure bool
	// MetricsCertDir holds tls.crt and tls.key for the metrics server; a
	// self-signed certificate is made when empty.
	MetricsCertDir string
	// HealthProbeBindAddress serves /healthz and /readyz; "" or "0" turns them off.
	HealthProbeBindAddress string
	// LeaderElection makes only one replica act at a time.
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// Workers is the number of Rollouts reconciled at once.
	Workers int
	// CheckWorkers is the number of Rollouts whose checks run at once,
	// outside the reconcile; 32 when 0.
	CheckWorkers int
	// Now is the clock of the step machine; time.Now when nil.
	Now func() time.Time
	// Providers hands out Prometheus providers; a PrometheusFactory when nil.
	Providers analysis.Factory
	// SkipNameValidation allows several managers in one process (tests).
	SkipNameValidation bool
	// Namespaces limits the controller to these namespaces; all when empty.
	Namespaces []string
	// PprofBindAddress serves net/http/pprof; "" or "0" turns it off.
	PprofBindAddress string
	// Notifications bound the sender of webhook notifications (workers,
	// queue, timeout, retries); zero values take notify's defaults.
	Notifications notify.Options
}

func metricsOptions(o Options) metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.MetricsBindAddress}
	if o.MetricsSecure {
		m.SecureServing = true
		m.FilterProvider = filters.WithAuthenticationAndAuthorization
		m.CertDir = o.MetricsCertDir
		// HTTP/2 is off, as kubebuilder advises, against its rapid-reset CVEs.
		m.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	return m
}

// urgentClient is a client like the manager's (reads from its cache) with a
// rate limit of its own, for the writes of rollbacks.
func urgentClient(cfg *rest.Config, mgr ctrl.Manager) (client.Client, error) {
	ucfg := rest.CopyConfig(cfg)
	ucfg.RateLimiter = nil // client.New makes a new one from QPS and Burst
	c, err := client.New(ucfg, client.Options{
		FieldOwner: v1.FieldManager,
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		Cache:      &client.CacheOptions{Reader: mgr.GetCache()},
	})
	if err != nil {
		return nil, fmt.Errorf("rollback client: %w", err)
	}
	return c, nil
}

// Scheme is the scheme Ramp's controller works with.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New builds the manager with the Rollout reconciler registered.
func New(ctx context.Context, cfg *rest.Config, o Options) (ctrl.Manager, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "ramp-controller.ramp.dev"
	}
	skip := o.SkipNameValidation
	// The cache holds only Ramp's own Deployments, Services and ConfigMaps (by label),
	// without managedFields: memory stays proportional to the Rollouts.
	owned, err := labels.Parse(v1.LabelRollout)
	if err != nil {
		return nil, err
	}
	configs, err := labels.Parse(v1.LabelConfig)
	if err != nil {
		return nil, err
	}
	cacheOpts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}: {Label: owned},
			&corev1.Service{}:    {Label: owned},
			// The Jobs of job checks.
			&batchv1.Job{}: {Label: owned},
			// ConfigMaps that configRefs list, and Ramp's copies of them.
			&corev1.ConfigMap{}: {Label: configs},
			// Only Secrets their owners labelled for configRefs, and the
			// copies: no other Secret reaches the cache.
			&corev1.Secret{}: {Label: configs},
		},
	}
	if len(o.Namespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.Namespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Cache:                   cacheOpts,
		Scheme:                  scheme,
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		PprofBindAddress:        o.PprofBindAddress,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// A leader that stops (an upgrade, a drain) gives its Lease up at
		// once, so that no rollback waits a lease duration for a leader.
		// Start returns only after the reconcilers stopped, so two leaders
		// never act at once.
		LeaderElectionReleaseOnCancel: true,
		Controller:                    ctrlConfig(skip),
		// Every write is made as Ramp's field manager, whatever the
		// binary is called, so that GitOps tools can be told which fields are
		// Ramp's (see README "GitOps").
		Client: client.Options{FieldOwner: v1.FieldManager},
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	providers := o.Providers
	if providers == nil {
		providers = analysis.NewPrometheusFactory()
	}
	m, err := metrics.New(crmetrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	// Reads come from the cache, with this controller's own writes read
	// back at once (see package fresh): no decision is taken twice on an
	// object the cache has not caught up with.
	c := fresh.New(mgr.GetClient(), mgr.GetCache(), o.Now)
	urgent, err := urgentClient(cfg, mgr)
	if err != nil {
		return nil, err
	}
	uc := c.With(urgent)
	r := &controllers.RolloutReconciler{
		Metrics:      m,
		Client:       c,
		Reader:       mgr.GetAPIReader(),
		Recorder:     mgr.GetEventRecorder("ramp-controller"),
		Router:       &traffic.GatewayAPI{Client: c, Reader: mgr.GetAPIReader()},
		Urgent:       uc,
		UrgentRouter: &traffic.GatewayAPI{Client: uc, Reader: mgr.GetAPIReader()},
		Providers:    providers,
		Now:          o.Now,
	}
	no := o.Notifications
	no.Count = func(res notify.Outcome) { m.Notification(string(res)) }
	no.Log = ctrl.Log.WithName("notify")
	r.Notify = controllers.NewNotifier(notify.New(no))
	// The sender's workers run apart from the reconcilers: a webhook that
	// hangs holds one of them for a request's timeout, never a decision.
	if err := mgr.Add(r.Notify); err != nil {
		return nil, fmt.Errorf("add notifier: %w", err)
	}
	if o.CheckWorkers > 0 {
		r.Checks = controllers.NewCheckPool(o.CheckWorkers)
	}
	if err := r.SetupWithManager(ctx, mgr, o.Workers); err != nil {
		return nil, fmt.Errorf("set up rollout controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}
