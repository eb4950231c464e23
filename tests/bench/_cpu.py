"""CPU seconds used by the benchmark's processes, read from ``/proc`` (Linux only).

Wall time alone cannot say why runs slow down under load; the CPU each process burns during a
batch can: a process whose CPU seconds approach the batch's wall time is saturating a core, and
the sum over all processes approaching the core count means the machine itself is the limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OWN = "bench"
MACHINE = "machine"
IOWAIT = "iowait"


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid``, all its threads included.

    Fields 14 (utime) and 15 (stime) of ``/proc/<pid>/stat``, in clock ticks. Field 2 is the command
    name in parentheses and may itself hold spaces or parentheses, so fields are counted from the
    last ``)``: the first field after it is field 3.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError as exc:
        raise RuntimeError(f"process {pid} is gone: its CPU time cannot be read") from exc
    fields = text[text.rindex(")") + 1 :].split()
    utime, stime = int(fields[14 - 3]), int(fields[15 - 3])
    return (utime + stime) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    """User plus system CPU seconds of this process (its pollers and client threads included)."""
    times = os.times()
    return times.user + times.system


def machine_seconds() -> dict[str, float]:
    """Busy and iowait CPU seconds of the whole machine so far, every process included.

    From the ``cpu`` line of ``/proc/stat`` (user nice system idle iowait irq softirq steal, in clock
    ticks, summed over cores). The machine may be shared: busy time beyond what the benchmark's
    processes used is other work competing for the same cores.
    """
    line = Path("/proc/stat").read_text().splitlines()[0]
    user, nice, system, _idle, iowait, irq, softirq, steal = (int(f) for f in line.split()[1:9])
    return {
        MACHINE: (user + nice + system + irq + softirq + steal) / CLOCK_TICKS,
        IOWAIT: iowait / CLOCK_TICKS,
    }


def snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process, this process under ``bench``, and the machine's."""
    readings = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
    readings[OWN] = own_cpu_seconds()
    readings.update(machine_seconds())
    return readings


def used(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two snapshots."""
    return {name: after[name] - before[name] for name in before}
