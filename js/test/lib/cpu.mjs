// CPU time of Chromium's processes and of its dedicated-worker threads,
// read from /proc (inside the test namespace, which holds only this run's
// processes): phases are compared by the CPU they cost, which the machine's
// other load barely moves, as well as by wall time.

import { readdirSync, readFileSync } from 'node:fs';

const tick = 1000 / 100; // ms per clock tick (USER_HZ, 100 on Linux)

function chromiumPIDs() {
  const pids = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (/chrom/i.test(cmd.split('\0')[0])) pids.push(pid);
    } catch { /* gone */ }
  }
  return pids;
}

function cpuOf(statPath) {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * tick; // utime, stime
}

// chromiumCPU is the CPU time (user + system, ms) every Chromium process
// has used so far.
export function chromiumCPU() {
  let total = 0;
  for (const pid of chromiumPIDs()) {
    try { total += cpuOf(`/proc/${pid}/stat`); } catch { /* gone */ }
  }
  return total;
}

// workerThreadsCPU is the CPU time (ms) of Chromium's dedicated-worker
// threads (named "DedicatedWorker…"): the engine's, when one tab runs.
export function workerThreadsCPU() {
  let total = 0;
  for (const pid of chromiumPIDs()) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (comm.startsWith('DedicatedWorker')) total += cpuOf(`/proc/${pid}/task/${tid}/stat`);
      }
    } catch { /* gone */ }
  }
  return total;
}

// threadsCPU maps "process type / thread name" to the CPU time (ms) its
// threads have used so far, over every Chromium process: diff two
// snapshots to see which threads a phase kept busy (IndexedDB's backend
// runs in the browser process, the engine in a renderer's DedicatedWorker
// thread).
export function threadsCPU() {
  const out = new Map();
  for (const pid of chromiumPIDs()) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0\s]+/);
      const type = (cmd.find((a) => a.startsWith('--type=')) || '--type=browser').slice(7);
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '');
        const key = `${type} / ${comm}`;
        out.set(key, (out.get(key) || 0) + cpuOf(`/proc/${pid}/task/${tid}/stat`));
      }
    } catch { /* gone */ }
  }
  return out;
}
