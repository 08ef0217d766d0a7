#!/usr/bin/env bash
# A single-node SLURM cluster on loopback, with accounting (slurmdbd on MariaDB), for testing the
# workflow's slurm profile. Needs root and Debian's slurm-wlm, slurmdbd, munge, mariadb-server
# (.ci/run installs them). No systemd: every daemon is started here, in the foreground (-D/-F) in
# its own session, and its PID written to STATE/pids/; tests/slurm/stop_cluster.sh STATE stops them.
#
#   tests/slurm/start_cluster.sh STATE      STATE: an empty or new folder (e.g. /tmp/memae-slurm)
#
# Prints the cluster's facts as KEY=VALUE lines (also in STATE/cluster.env): PARTITION, ACCOUNT,
# CPUS, MEM_MB. What makes it work (each learnt the hard way):
# - slurm.conf must be at /etc/slurm/slurm.conf: the jobstep that Snakemake runs inside each job
#   drops every SLURM_* variable, SLURM_CONF included. A symlink to STATE/slurm.conf is made there,
#   and refused if a real configuration is in the way.
# - The munge key belongs to munge with mode 0400; munge runs on its own socket in STATE, which
#   slurmdbd is told through AccountingStoragePass.
# - Snakemake's slurm plugin polls `sacct`: without slurmdbd sacct fails and the workflow waits
#   forever, so accounting runs, and the account given to jobs is a real association.
set -euo pipefail

STATE=${1:?usage: start_cluster.sh STATE_DIR}
[ "$(id -u)" = 0 ] || { echo "start_cluster.sh: needs root" >&2; exit 2; }
for tool in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sacctmgr setpriv; do
  command -v "$tool" >/dev/null || { echo "start_cluster.sh: $tool not found (apt-get install slurm-wlm slurmdbd munge mariadb-server)" >&2; exit 2; }
done
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
chmod 755 "$STATE"
mkdir -p "$STATE/pids" "$STATE/ctld" "$STATE/slurmd" "$STATE/munge" "$STATE/mysql"

# /etc/slurm/slurm.conf -> STATE/slurm.conf, unless something else is there.
CONF_LINK=/etc/slurm/slurm.conf
if [ -e "$CONF_LINK" ] || [ -L "$CONF_LINK" ]; then
  # Only a link left by an earlier test cluster (its target gone, or marked as ours) is replaced.
  if ! [ -L "$CONF_LINK" ] || { [ -e "$CONF_LINK" ] && ! head -n 1 "$CONF_LINK" | grep -q '^# memae-repro test cluster'; }; then
    echo "start_cluster.sh: $CONF_LINK exists and is not a test cluster's; not touching it" >&2
    exit 2
  fi
fi

free_ports() {  # N free TCP ports on 127.0.0.1
  "${PYTHON:-python3}" - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r DB_PORT DBD_PORT CTLD_PORT SLURMD_PORT < <(free_ports 4)
HOST=$(hostname)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
PARTITION=debug
ACCOUNT=memae
CLUSTER=memae
DB_PASS=memae-test-$RANDOM$RANDOM
SOCK=$STATE/munge-run/munge.socket
export SLURM_CONF=$STATE/slurm.conf

start() {  # start NAME CMD...: the command in its own session, PID in STATE/pids/NAME
  local name=$1; shift
  setsid "$@" >"$STATE/$name.out" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}
wait_for() {  # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "start_cluster.sh: $what did not come up in ${secs}s; logs in $STATE" >&2
  tail -n 20 "$STATE"/*.out "$STATE"/*.log 2>/dev/null >&2 || true
  exit 1
}

# munge: its own key (munge-owned, 0400) and socket.
mkdir -p "$STATE/munge-run"                 # the socket's folder must be searchable by all
chown munge:munge "$STATE/munge" "$STATE/munge-run"
chmod 700 "$STATE/munge"
chmod 755 "$STATE/munge-run"
head -c 1024 /dev/urandom >"$STATE/munge/munge.key"
chown munge:munge "$STATE/munge/munge.key"
chmod 400 "$STATE/munge/munge.key"
start munged setpriv --reuid=munge --regid=munge --clear-groups \
  munged -F --key-file="$STATE/munge/munge.key" --socket="$SOCK" \
  --pid-file="$STATE/munge-run/munged.pid" --log-file="$STATE/munge/munged.log" \
  --seed-file="$STATE/munge/munged.seed"
wait_for munged 10 munge -S "$SOCK" -n

# MariaDB on 127.0.0.1 for slurmdbd.
chown mysql:mysql "$STATE/mysql"
mariadb-install-db --no-defaults --user=mysql --datadir="$STATE/mysql" --skip-test-db \
  --auth-root-authentication-method=socket >"$STATE/mariadb-install.out" 2>&1
start mariadbd mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql" \
  --socket="$STATE/mysql/mysqld.sock" --bind-address=127.0.0.1 --port="$DB_PORT" \
  --pid-file="$STATE/mysql/mariadbd.pid" --log-error="$STATE/mariadbd.log" \
  --innodb-buffer-pool-size=64M --skip-log-bin
wait_for mariadbd 30 mariadb-admin --no-defaults --socket="$STATE/mysql/mysqld.sock" ping
mariadb --no-defaults --socket="$STATE/mysql/mysqld.sock" <<EOF
CREATE USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF

cat >"$STATE/slurmdbd.conf" <<EOF
# memae-repro test cluster
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
chmod 600 "$STATE/slurmdbd.conf"

cat >"$STATE/slurm.conf" <<EOF
# memae-repro test cluster (tests/slurm/start_cluster.sh): one node on loopback
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=300
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$SOCK
AccountingStorageEnforce=associations
AccountingStoreFlags=job_comment
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p /etc/slurm
ln -sfn "$STATE/slurm.conf" "$CONF_LINK"

start slurmdbd slurmdbd -D
wait_for slurmdbd 30 sacctmgr -n list cluster
sacctmgr -i add cluster "$CLUSTER" >/dev/null
sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description=memae-tests organization=memae >/dev/null
sacctmgr -i add user "$(id -un)" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
start slurmctld slurmctld -D
wait_for slurmctld 30 scontrol ping
start slurmd slurmd -D -N "$HOST"
node_idle() { sinfo -h -N -o %t | grep -qx idle; }
wait_for "slurmd (node idle)" 30 node_idle

tee "$STATE/cluster.env" <<EOF
PARTITION=$PARTITION
ACCOUNT=$ACCOUNT
CPUS=$CPUS
MEM_MB=$MEM_MB
EOF
