// Chromium traces of a page over the DevTools protocol, and what the
// benchmarks and profiles read from them: the page's main-thread tasks with
// their wall time and their thread CPU time. A task can take 50 ms by the
// wall clock while it ran on the CPU for a few: on a busy machine it waited
// for a core. The CPU time says how much of it was the page's own work.

// startTrace starts a trace of page's browser with categories and returns
// stop(), which ends it and resolves to the trace's events. Add
// 'disabled-by-default-devtools.timeline' when the page navigates during
// the trace: it says which process the page moved to (pageProcess).
export async function startTrace(page, categories = ['toplevel']) {
  const cdp = await page.context().newCDPSession(page);
  // A buffer that keeps the oldest events when full, so that a lost tail
  // is reported (dataLossOccurred) rather than the start of the window
  // silently overwritten.
  await cdp.send('Tracing.start', { transferMode: 'ReturnAsStream', traceConfig: { includedCategories: categories, recordMode: 'recordUntilFull' }, bufferUsageReportingInterval: 1000 });
  return async function stop() {
    let stream;
    try {
      const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
      await cdp.send('Tracing.end');
      const complete = await done;
      if (complete.dataLossOccurred) console.error('trace: the trace buffer filled up: events at its end are missing');
      stream = complete.stream;
      const chunks = [];
      for (;;) {
        const chunk = await cdp.send('IO.read', { handle: stream, size: 1 << 20 });
        chunks.push(chunk.base64Encoded ? Buffer.from(chunk.data, 'base64') : Buffer.from(chunk.data, 'utf8'));
        if (chunk.eof) break;
      }
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      return Array.isArray(parsed) ? parsed : parsed.traceEvents;
    } finally {
      if (stream) await cdp.send('IO.close', { handle: stream }).catch(() => {});
      await cdp.detach().catch(() => {});
    }
  };
}

// pageProcess is the renderer process of the traced page: the last one its
// main frame committed a navigation in (FrameCommittedInBrowser, category
// disabled-by-default-devtools.timeline), else the one it was in when the
// trace started (TracingStartedInBrowser). A browser runs other renderers
// too (another tab, a built-in page) whose tasks are not the page's.
export function pageProcess(events) {
  let pid = null;
  let frame = null;
  for (const e of events) {
    if (e.name === 'TracingStartedInBrowser' && frame === null) {
      const main = (e.args?.data?.frames || []).find((f) => f.isOutermostMainFrame ?? !f.parent);
      if (main) {
        frame = main.frame;
        pid = main.processId ?? null;
      }
    }
  }
  // The page's own main frame only: the trace covers the whole browser.
  const commits = events.filter((e) => e.name === 'FrameCommittedInBrowser' && e.args?.data?.processId
    && (frame === null ? e.args.data.isOutermostMainFrame : e.args.data.frame === frame)).sort((a, b) => a.ts - b.ts);
  if (commits.length) pid = commits.at(-1).args.data.processId;
  return pid;
}

// mainThreadOf finds the page's main thread in a trace: the CrRendererMain
// thread of pageProcess, or, when the trace does not say which process is
// the page's, the CrRendererMain thread whose tasks took the longest.
export function mainThreadOf(events) {
  const mains = events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const pid = pageProcess(events);
  const own = mains.find((t) => t.pid === pid);
  if (own) return { pid: own.pid, tid: own.tid };
  let best = null;
  let longest = -1;
  for (const t of mains) {
    let total = 0;
    for (const e of events) if (e.pid === t.pid && e.tid === t.tid && e.ph === 'X' && isTask(e)) total += e.dur || 0;
    if (total > longest) {
      best = t;
      longest = total;
    }
  }
  return best && { pid: best.pid, tid: best.tid };
}

const isTask = (e) => e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask';

// mainThreadTasks lists the main thread's tasks as { wall, cpu } in ms
// (cpu: the thread's CPU time in the task, NaN when the trace has none).
// Each task appears once: a trace may hold both RunTask and, inside it,
// ThreadControllerImpl::RunTask for the same task (with the devtools
// categories), so a task inside another is left out.
export function mainThreadTasks(events) {
  const main = mainThreadOf(events);
  if (!main) return [];
  const tasks = events
    .filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && isTask(e))
    .sort((a, b) => a.ts - b.ts || (b.dur || 0) - (a.dur || 0));
  const out = [];
  let end = -Infinity;
  for (const e of tasks) {
    if (e.ts < end) continue; // inside the task before
    end = e.ts + (e.dur || 0);
    out.push({ wall: (e.dur || 0) / 1000, cpu: typeof e.tdur === 'number' ? e.tdur / 1000 : NaN });
  }
  return out;
}

// cpuNote says, of the tasks over 50 ms by the wall clock, how many also
// ran on the CPU for over 50 ms, and the heaviest task by CPU time.
export function cpuNote(tasks) {
  if (tasks.length === 0) return 'no trace of the main thread';
  if (tasks.every((x) => Number.isNaN(x.cpu))) return 'no CPU times in the trace';
  const overCPU = tasks.filter((x) => x.cpu > 50);
  const heaviest = tasks.reduce((m, x) => Math.max(m, x.cpu || 0), 0);
  return `by CPU time: ${overCPU.length ? `${overCPU.length} over 50 ms` : 'none over 50 ms'} (the heaviest task ${Math.round(heaviest)} ms of CPU)`;
}
