#!/bin/bash
# Start a real one-node SLURM cluster on this machine (Debian packages, loopback only, no cgroups, no
# accounting). Used by .ci/run and by the test fixture for local runs. Idempotent. Needs root.
# SLURM_FAKE_GPUS=N (default 2, 0 for none): the node advertises N GPUs backed by /dev/null-like device
# nodes, so GPU-shaped sbatch headers (--gpus-per-node) are accepted; torch still sees no CUDA.
set -euo pipefail
H=$(hostname -s); CPUS=$(nproc); G=${SLURM_FAKE_GPUS:-2}
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! dpkg -s munge slurmctld slurmd slurm-client >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    munge slurmctld slurmd slurm-client >/dev/null
fi
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey -c
alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
install -d /etc/slurm
install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
GRES=""; TYPES=""
if [ "$G" -gt 0 ]; then
  for i in $(seq 0 $((G-1))); do [ -e /dev/fakegpu$i ] || mknod -m 666 /dev/fakegpu$i c 1 3; done
  echo "NodeName=$H Name=gpu File=/dev/fakegpu[0-$((G-1))]" > /etc/slurm/gres.conf
  GRES="Gres=gpu:$G"; TYPES="GresTypes=gpu"
else
  rm -f /etc/slurm/gres.conf
fi
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=r1ci
SlurmctldHost=$H(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
MinJobAge=600
$TYPES
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM $GRES State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
alive /run/slurmctld.pid || { rm -rf /var/lib/slurm/slurmctld/*; /usr/sbin/slurmctld; }
alive /run/slurmd.pid || /usr/sbin/slurmd -c
for _ in $(seq 1 150); do
  sinfo -h -n "$H" -o %T 2>/dev/null | grep -qE '^(idle|mixed|alloc)' && { echo "slurm: node $H ready"; exit 0; }
  sleep 0.2
done
echo "slurm node not ready" >&2; tail -20 /var/log/slurm/slurmctld.log >&2; exit 1
