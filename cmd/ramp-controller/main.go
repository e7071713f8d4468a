// Command ramp-controller runs Ramp's Rollout controller.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // deploy windows name IANA zones; images may lack a zone database

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ramp-dev/ramp/internal/manager"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ramp-controller:", err)
		os.Exit(1)
	}
}

func run() error {
	var o manager.Options
	flag.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "address the metrics endpoint binds to; 0 turns it off")
	flag.BoolVar(&o.MetricsSecure, "metrics-secure", true, "serve metrics over HTTPS with authentication and authorization by the API server; false serves plain HTTP (local runs)")
	flag.StringVar(&o.MetricsCertDir, "metrics-cert-dir", "", "folder with tls.crt and tls.key for the metrics server; a self-signed certificate is made when empty")
	flag.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address the health probes bind to")
	flag.StringVar(&o.PprofBindAddress, "pprof-bind-address", "", "address net/http/pprof binds to (e.g. 127.0.0.1:6060); empty turns it off")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader so that only one replica acts at a time")
	flag.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election lease (default: the pod's)")
	// A step transition is about three writes (status, route, event), so
	// a thousand Rollouts on 10s steps ask for ~300 writes a second; the
	// API server's priority and fairness, not this limit, is what guards
	// it. Rollbacks have a limiter of their own at the same rate.
	flag.IntVar(&o.Workers, "workers", 16, "number of Rollouts reconciled at once")
	flag.IntVar(&o.CheckWorkers, "check-workers", 32, "number of Rollouts whose Prometheus checks run at once, apart from the workers that decide and roll back")
	flag.IntVar(&o.Notifications.Workers, "notification-workers", 4, "number of webhook notifications sent at once, apart from the workers that decide")
	flag.IntVar(&o.Notifications.Queue, "notification-queue", 256, "notifications (one per moment and webhook) waiting or retrying at most; more are dropped and counted")
	flag.DurationVar(&o.Notifications.Timeout, "notification-timeout", 10*time.Second, "timeout of each webhook request")
	qps := flag.Float64("kube-api-qps", 300, "requests per second to the API server (rollbacks have their own allowance of the same size)")
	burst := flag.Int("kube-api-burst", 600, "burst of requests to the API server")
	var namespaces string
	flag.StringVar(&namespaces, "namespaces", "", "comma-separated namespaces to watch (default: all)")
	zo := zap.Options{Development: false}
	zo.BindFlags(flag.CommandLine)
	flag.Parse() // --kubeconfig is registered by controller-runtime's config package

	if namespaces != "" {
		o.Namespaces = strings.Split(namespaces, ",")
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zo)))
	logger := ctrl.Log.WithName("setup")
	ctx := ctrl.SetupSignalHandler()
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	mgr, err := manager.New(ctx, cfg, o)
	if err != nil {
		return err
	}
	logger.Info("starting manager", "metrics", o.MetricsBindAddress, "probes", o.HealthProbeBindAddress, "leaderElection", o.LeaderElection)
	return mgr.Start(ctx)
}
