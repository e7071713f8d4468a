{{/*
The controller's permissions. They are independent of values on purpose:
hack/charttest (TestRBACRulesMatchGenerated) renders them and compares them
with config/rbac/role.yaml, which controller-gen generates from the
+kubebuilder:rbac markers in controllers/, and the impersonated-controller
tests there prove that a full rollout and a rollback need nothing more and
use every verb granted. Change the markers, run `make manifests`, then
change these rules to match.
*/}}

{{/*
What the reconciler uses in every watched namespace. Rollouts, Deployments
and Services are read from the informer cache (list and watch); Rollouts are
patched for the ramp.dev/traffic finalizer. A color Deployment or Service the
label-filtered cache does not hold is looked up live (get), so that an object
of that name that is not Ramp's is refused rather than taken over. Secrets
(the Prometheus bearer token) and HTTPRoutes and GRPCRoutes (after a write
found the route changed) are read live. RBAC cannot narrow Secret access by
label, so the controller does: it uses only Secrets labelled
ramp.dev/credentials: "true" and refuses every other Secret a Rollout names
before looking at its data. ConfigMaps: the cache holds those labelled
ramp.dev/config (the ones configRefs list, and the immutable copies Ramp
makes of them per revision and deletes once no color uses them); a listed
ConfigMap not labelled yet is read live. Secrets a Rollout's configRefs
list are copied the same way, but only those their owners labelled
ramp.dev/config: source: the Secret informer selects that label, so no
other Secret reaches the controller's cache, and Ramp never labels one.
Jobs: a job check (a smoke test) creates one per step and revision, labelled
ramp.dev/rollout and owned by the Rollout, watched through the same
label-filtered cache, and deletes it (with its pods) once done; a Job of its
name that the cache does not show is read live (get), so that one that is
not Ramp's is refused rather than waited for.
Pods are listed live (not cached), by a color's labels, only when that
color's ready revision or ready pod count changed, to record the image
digests its ready pods run (status.images).
Verifications: the record of each promoted or rolled-back run is created in
the Rollout's namespace, a Watching one patched once its watch ends, the
oldest beyond spec.promotion.historyLimit deleted; all of them are read from
the cache (list and watch), those of the environments spec.promotion.requires
names too. Only the controller writes them: the aggregated edit role grants
read access only, so a namespace's editors cannot forge a proof.
*/}}
{{- define "ramp.controllerRules" -}}
- apiGroups: ["ramp.dev"]
  resources: ["rollouts"]
  verbs: ["list", "patch", "watch"]
- apiGroups: ["ramp.dev"]
  resources: ["rollouts/status"]
  verbs: ["patch"]
- apiGroups: ["ramp.dev"]
  resources: ["analysistemplates"]
  verbs: ["list", "watch"]
- apiGroups: ["ramp.dev"]
  resources: ["verifications"]
  verbs: ["create", "delete", "list", "patch", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["create", "get", "list", "patch", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["create", "get", "list", "patch", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "delete", "get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "delete", "get", "list", "patch", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["grpcroutes", "httproutes"]
  verbs: ["get", "list", "patch", "watch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "delete", "get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
What leader election uses, in the release namespace only: the Lease, and the
core Event "<identity> became leader" that controller-runtime's leader
election records on it (once per process: a replica that loses the Lease
exits, so the event never repeats and is never patched).
*/}}
{{- define "ramp.leaderElectionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create", "get", "update"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{/*
What the reconciler reads cluster-wide whatever watchNamespaces says: the
ClusterAnalysisTemplates Rollouts name in spec.analysis.templates (read from
the informer cache, watched so that one that appears starts the revision
that waited for it). They are cluster-scoped, so a ClusterRole grants them
even when watchNamespaces limits the rest to Roles; AnalysisTemplates are
namespaced and go with the controller's rules. Namespaces: the
ramp.dev/environment label of a Rollout's namespace names its environment
(unless spec.environment does); read live (get), at most once a minute per
namespace.
*/}}
{{- define "ramp.clusterTemplateRules" -}}
- apiGroups: ["ramp.dev"]
  resources: ["clusteranalysistemplates"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
{{- end }}

{{/*
What the secure metrics endpoint (metrics.secure) uses: it asks the API
server who each scraper is (TokenReview) and whether it may GET /metrics
(SubjectAccessReview). Both are cluster-scoped, so a ClusterRole grants them
even when watchNamespaces limits the rest to Roles.
*/}}
{{- define "ramp.metricsAuthRules" -}}
- apiGroups: ["authentication.k8s.io"]
  resources: ["tokenreviews"]
  verbs: ["create"]
- apiGroups: ["authorization.k8s.io"]
  resources: ["subjectaccessreviews"]
  verbs: ["create"]
{{- end }}
