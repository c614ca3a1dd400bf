#!/bin/bash
# Stop the one-node SLURM cluster started by slurm-up.sh: each daemon by its PID file, in order.
for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
  [ -s "$f" ] || continue; p=$(cat "$f")
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p"; rm -f "$f"
done
rm -f /dev/fakegpu[0-9]* 2>/dev/null
exit 0
