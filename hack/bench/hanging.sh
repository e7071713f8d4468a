#!/usr/bin/env bash
# hanging.sh measures the rollback latency of healthy Rollouts while others
# query a Prometheus that never answers, before and after the checks left
# the reconcile (issue "Isolation"; docs/HANGING.md). Three runs of the
# scale benchmark (hack/bench), each on its own envtest:
#
#   baseline  this tree, N Rollouts, no hanging ones
#   after     this tree, N Rollouts + K whose Prometheus hangs (timeout 1m)
#   before    commit $BEFORE (checks inside the reconcile), same N and K,
#             in a git worktree under $OUT with this tree's hack/bench
#             copied in, so that only the controller differs
#
# then prints a Markdown table of the three. RUNS may also name
#
#   wide      this tree, N + K, with --check-workers=2K: more check slots
#             than hanging Rollouts
#
# No make; nothing in the
# repository is written (results go to $OUT). Settings, from the
# environment: N (100), K (50), INTERVAL (5s), BEFORE (3214969),
# OUT (/tmp/ramp-hanging), RUNS ("baseline after before": a subset reruns
# only those), KEEP=1 keeps the worktree, BENCH_FLAGS (extra flags for
# every run, e.g. "-timeout 15m").
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-100}
K=${K:-50}
INTERVAL=${INTERVAL:-5s}
BEFORE=${BEFORE:-3214969}
OUT=${OUT:-/tmp/ramp-hanging}
RUNS=${RUNS:-baseline after before}
BENCH_FLAGS=${BENCH_FLAGS:-}
# kube-apiserver and etcd: the worktree has no bin/ of its own.
export KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-$root/bin}
for b in kube-apiserver etcd; do
	[ -x "$KUBEBUILDER_ASSETS/$b" ] || { echo "hanging.sh: no $KUBEBUILDER_ASSETS/$b (make tools)" >&2; exit 1; }
done
mkdir -p "$OUT"

bench() { # bench <tree> <label> <hang> [controller flags]
	local tree=$1 label=$2 hang=$3 args=${4:-}
	rm -f "$OUT/$label.json"
	echo "== $label: $(git -C "$tree" rev-parse --short HEAD) in $tree, N=$N, hang=$hang, interval $INTERVAL" >&2
	# A run that fails leaves no result; the table says so and the others go on.
	(cd "$tree" && go run ./hack/bench -n "$N" -hang "$hang" -interval "$INTERVAL" \
		-controller-args "$args" -results "$OUT/$label.json" -doc '' -png '' $BENCH_FLAGS) 2>&1 | tee "$OUT/$label.log" >&2 ||
		echo "hanging.sh: the $label run failed, see $OUT/$label.log" >&2
}

wt=$OUT/before
for run in $RUNS; do
	case $run in
	baseline) bench "$root" baseline 0 ;;
	after) bench "$root" after "$K" ;;
	wide) bench "$root" wide "$K" "--check-workers=$((2 * K))" ;;
	before)
		if [ ! -e "$wt/.git" ]; then
			git -C "$root" worktree add --detach "$wt" "$BEFORE" >&2
		fi
		git -C "$wt" checkout -q --detach "$BEFORE"
		rm -rf "$wt/hack/bench"
		cp -r "$root/hack/bench" "$wt/hack/bench"
		rm -f "$wt/hack/bench/results.json"
		bench "$wt" before "$K"
		if [ "${KEEP:-}" != 1 ]; then
			git -C "$root" worktree remove --force "$wt"
		fi
		;;
	*) echo "hanging.sh: unknown run $run" >&2; exit 2 ;;
	esac
done

cd "$root"
runs="baseline=$OUT/baseline.json,after=$OUT/after.json,before=$OUT/before.json"
if [ -e "$OUT/wide.json" ]; then
	runs="$runs,after --check-workers=$((2 * K))=$OUT/wide.json"
fi
go run ./hack/bench -compare "$runs"
