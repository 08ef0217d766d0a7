#!/usr/bin/env bash
# Stops the daemons that tests/slurm/start_cluster.sh STATE started (their PIDs are in
# STATE/pids/), in reverse order, and removes the /etc/slurm/slurm.conf link it made.
#   tests/slurm/stop_cluster.sh STATE
set -uo pipefail
STATE=${1:?usage: stop_cluster.sh STATE_DIR}
[ -d "$STATE/pids" ] || exit 0
STATE=$(cd "$STATE" && pwd)
for name in slurmd slurmctld slurmdbd mariadbd munged; do
  f=$STATE/pids/$name
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "stop_cluster.sh: $name ($pid) ignored TERM; killing" >&2; kill -KILL "$pid"; }
  rm -f "$f"
done
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$STATE/slurm.conf" ]; then
  rm -f /etc/slurm/slurm.conf
fi
