package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
	"github.com/ramp-dev/ramp/notify"
)

// maxNotificationRecords bounds status.notifications.
const maxNotificationRecords = 8

// Notifier hands the moments a Rollout's written status shows to a
// notify.Sender and keeps, in memory only, which are under way and how
// those that ended went. The status records each moment
// (status.notifications) in the same write that shows it, Pending until
// the reconcile after its delivery ended records the outcome: a restarted
// controller sends again what is still Pending (at least once) and never
// what is not. The reconcile only enqueues; nothing here waits for a
// webhook.
type Notifier struct {
	sender *notify.Sender
	events chan event.GenericEvent

	mu   sync.Mutex
	ctx  context.Context
	jobs map[types.NamespacedName]map[string]*notification
}

// notification is one moment of one Rollout under way or ended.
type notification struct {
	ended  bool
	state  v1.NotificationState
	result string
}

// NewNotifier returns a notifier that delivers through s.
func NewNotifier(s *notify.Sender) *Notifier {
	return &Notifier{sender: s, events: make(chan event.GenericEvent, 1024), jobs: map[types.NamespacedName]map[string]*notification{}}
}

// Start runs the sender's workers until ctx ends (a manager Runnable).
func (n *Notifier) Start(ctx context.Context) error {
	n.mu.Lock()
	n.ctx = ctx
	n.mu.Unlock()
	return n.sender.Start(ctx)
}

// NeedLeaderElection makes only the leader send.
func (n *Notifier) NeedLeaderElection() bool { return true }

// Events are the Rollouts whose notifications ended, so that the
// reconcile records the outcome.
func (n *Notifier) Events() <-chan event.GenericEvent { return n.events }

// Forget drops what is known of a Rollout that is gone.
func (n *Notifier) Forget(name types.NamespacedName) {
	if n == nil {
		return
	}
	n.mu.Lock()
	delete(n.jobs, name)
	n.mu.Unlock()
}

func noteKey(uid types.UID, key string) string { return string(uid) + "/" + key }

// get returns the notification of key, nil when none is known.
func (n *Notifier) get(name types.NamespacedName, key string) *notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.jobs[name][key]
}

func (n *Notifier) set(name types.NamespacedName, key string, j *notification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.jobs[name] == nil {
		n.jobs[name] = map[string]*notification{}
	}
	n.jobs[name][key] = j
}

// retain forgets the notifications of name whose keys are not in keep:
// those the status no longer records. An ended one stays known while its
// record does, so that a status read from before its outcome was written
// does not send it again.
func (n *Notifier) retain(name types.NamespacedName, keep map[string]bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k := range n.jobs[name] {
		if !keep[k] {
			delete(n.jobs[name], k)
		}
	}
	if len(n.jobs[name]) == 0 {
		delete(n.jobs, name)
	}
}

// end records how key went and brings the Rollout back to write it down.
func (n *Notifier) end(ro *v1.Rollout, key string, state v1.NotificationState, result string) {
	n.set(client.ObjectKeyFromObject(ro), key, &notification{ended: true, state: state, result: result})
	n.mu.Lock()
	ctx := n.ctx
	n.mu.Unlock()
	ev := event.GenericEvent{Object: ro}
	select {
	case n.events <- ev:
		return
	default:
	}
	if ctx == nil {
		return
	}
	go func() {
		select {
		case n.events <- ev:
		case <-ctx.Done():
		}
	}()
}

// recordMoments writes into st (the status about to be written) the
// outcome of ended notifications and a Pending record for each moment st
// shows that prev did not, when a webhook is on it.
func (r *RolloutReconciler) recordMoments(ctx context.Context, ro *v1.Rollout, prev, st *v1.RolloutStatus, revision string) {
	if r.Notify == nil {
		return
	}
	name := client.ObjectKeyFromObject(ro)
	for i := range st.Notifications {
		rec := &st.Notifications[i]
		if rec.State != v1.NotificationPending {
			continue
		}
		if j := r.Notify.get(name, noteKey(ro.UID, rec.Key)); j != nil && j.ended {
			rec.State, rec.Result = j.state, j.result
		}
	}
	moments := plan.Moments(prev, st, revision)
	if len(moments) == 0 {
		return
	}
	hooks, problem := r.webhooks(ctx, ro)
	if problem != "" {
		r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, "NotificationConfigInvalid", "Notify", "%s", problem)
	}
	for _, m := range moments {
		key := m.Key()
		if slices.ContainsFunc(st.Notifications, func(rec v1.NotificationRecord) bool { return rec.Key == key }) {
			continue // notified once
		}
		if len(wanting(hooks, m.Kind)) == 0 {
			continue
		}
		st.Notifications = append(st.Notifications, v1.NotificationRecord{
			Key: key, Moment: m.Kind, Revision: m.Revision, Step: m.Step, Weight: m.Weight,
			Message: st.Message, Reason: m.Reason, At: metav1.NewTime(r.now()), State: v1.NotificationPending,
		})
	}
	pruneRecords(st)
}

// pruneRecords keeps the newest records, Pending ones first.
func pruneRecords(st *v1.RolloutStatus) {
	for len(st.Notifications) > maxNotificationRecords {
		i := slices.IndexFunc(st.Notifications, func(rec v1.NotificationRecord) bool { return rec.State != v1.NotificationPending })
		if i < 0 {
			i = 0
		}
		st.Notifications = slices.Delete(st.Notifications, i, i+1)
	}
}

func wanting(hooks []v1.Webhook, m v1.NotificationMoment) []v1.Webhook {
	var out []v1.Webhook
	for _, h := range hooks {
		if h.Wants(m) {
			out = append(out, h)
		}
	}
	return out
}

// sendMoments enqueues each Pending record of ro's written status that is
// not under way, and forgets those the status no longer records. It never
// waits for a webhook.
func (r *RolloutReconciler) sendMoments(ctx context.Context, ro *v1.Rollout) {
	if r.Notify == nil {
		return
	}
	name := client.ObjectKeyFromObject(ro)
	keep := map[string]bool{}
	for _, rec := range ro.Status.Notifications {
		keep[noteKey(ro.UID, rec.Key)] = true
	}
	r.Notify.retain(name, keep)
	var hooks []v1.Webhook
	resolved := false
	for _, rec := range ro.Status.Notifications {
		key := noteKey(ro.UID, rec.Key)
		if rec.State != v1.NotificationPending {
			continue
		}
		if r.Notify.get(name, key) != nil {
			continue // under way, or ended and not written down yet
		}
		if !resolved {
			hooks, _ = r.webhooks(ctx, ro)
			resolved = true
		}
		r.enqueue(ctx, ro, rec, wanting(hooks, rec.Moment))
	}
}

// enqueue hands one record's notification to the sender.
func (r *RolloutReconciler) enqueue(ctx context.Context, ro *v1.Rollout, rec v1.NotificationRecord, hooks []v1.Webhook) {
	name := client.ObjectKeyFromObject(ro)
	key := noteKey(ro.UID, rec.Key)
	ref := &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name, UID: ro.UID}}
	if len(hooks) == 0 {
		r.Notify.end(ref, key, v1.NotificationDropped, "no webhook is on "+string(rec.Moment)+" any more")
		return
	}
	targets := make([]notify.Target, len(hooks))
	for i, h := range hooks {
		targets[i] = notify.Target{Name: h.Name, Format: string(h.Format), URL: func(ctx context.Context) (string, error) {
			return r.webhookAddress(ctx, ro.Namespace, h)
		}}
	}
	r.Notify.set(name, key, &notification{})
	job := notify.Job{Message: notificationMessage(ro, rec), Targets: targets, Done: func(results []notify.Result) {
		state, result := outcome(results)
		if state == v1.NotificationSent {
			r.Recorder.Eventf(ref, nil, corev1.EventTypeNormal, "Notified", "Notify", "%s sent to %s", rec.Moment, result)
		} else {
			r.Recorder.Eventf(ref, nil, corev1.EventTypeWarning, "NotificationFailed", "Notify", "%s: %s", rec.Moment, result)
		}
		r.Notify.end(ref, key, state, result)
	}}
	if err := r.Notify.sender.Enqueue(job); err != nil {
		if !errors.Is(err, notify.ErrQueueFull) {
			log.FromContext(ctx).Error(err, "enqueue notification", "rollout", klog.KObj(ro), "moment", rec.Key)
		}
		log.FromContext(ctx).Info("notification dropped: the queue is full", "rollout", klog.KObj(ro), "moment", rec.Key, "webhooks", len(hooks))
		r.Recorder.Eventf(ref, nil, corev1.EventTypeWarning, "NotificationDropped", "Notify", "%s not sent: the notification queue is full", rec.Moment)
		r.Notify.end(ref, key, v1.NotificationDropped, "the notification queue was full")
	}
}

// outcome sums up a job's results: Sent when every webhook took it.
func outcome(results []notify.Result) (v1.NotificationState, string) {
	sort.Slice(results, func(i, j int) bool { return results[i].Target < results[j].Target })
	state := v1.NotificationSent
	var sent, other []string
	for _, res := range results {
		switch res.Outcome {
		case notify.Sent:
			sent = append(sent, res.Target)
		default:
			state = v1.NotificationFailed
			other = append(other, fmt.Sprintf("webhook %s: %s", res.Target, res.Error))
		}
	}
	if state == v1.NotificationSent {
		return state, strings.Join(sent, ", ")
	}
	if len(sent) > 0 {
		other = append(other, "sent to "+strings.Join(sent, ", "))
	}
	return state, strings.Join(other, "; ")
}

// notificationMessage is what the webhooks are told about rec.
func notificationMessage(ro *v1.Rollout, rec v1.NotificationRecord) notify.Message {
	st := &ro.Status
	m := notify.Message{
		Moment:   string(rec.Moment),
		Rollout:  notify.Rollout{Namespace: ro.Namespace, Name: ro.Name, UID: string(ro.UID)},
		Revision: rec.Revision, StableRevision: st.StableRevision,
		Step: rec.Step, Steps: int32(len(ro.Spec.EffectiveSteps())), Weight: rec.Weight,
		Message: rec.Message, Reason: rec.Reason, Time: rec.At.UTC(),
	}
	// The checks in status are this revision's while it is the canary (or
	// the promoted stable): sent again after a restart, a record of an
	// older revision goes without.
	ofRevision := rec.Revision == st.CanaryRevision || (rec.Moment == v1.MomentPromoted && rec.Revision == st.StableRevision)
	if st.Analysis == nil || !ofRevision || rec.Moment == v1.MomentRolloutStarted {
		return m
	}
	bounds := map[string]v1.Metric{}
	for _, s := range plan.Metrics(&ro.Spec, st) {
		bounds[s.Metric.Name] = s.Metric
	}
	for _, ms := range st.Analysis.Metrics {
		c := notify.Check{Name: ms.Name, Phase: string(ms.Phase), Value: ms.Value, Message: ms.Message}
		if mt, ok := bounds[ms.Name]; ok {
			c.Min, c.Max = mt.Min, mt.Max
		}
		m.Checks = append(m.Checks, c)
	}
	return m
}
