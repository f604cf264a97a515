// A node:test reporter that prints, once the run ends, where the suite's time went: for each test
// file the sum of its top-level tests' durations (hooks such as starting a Berth fall into the
// first test that needs them, or are not counted), slowest first. run-tests.mjs adds it beside the
// TAP reporter. (Wall times per file cannot be read here: the runner reports a file's events in
// file order, after the fact.)
const SHOWN = 25;

export default async function* durations(source) {
  const files = new Map();
  for await (const ev of source) {
    if ((ev.type !== 'test:pass' && ev.type !== 'test:fail') || ev.data.nesting !== 0 || !ev.data.file) continue;
    const f = files.get(ev.data.file) ?? { ms: 0, tests: 0 };
    f.ms += ev.data.details?.duration_ms ?? 0;
    f.tests++;
    files.set(ev.data.file, f);
  }
  const rows = [...files].map(([file, f]) => ({ file: file.replace(/^.*?dist\//, ''), s: f.ms / 1000, tests: f.tests })).sort((a, b) => b.s - a.s);
  const total = rows.reduce((n, r) => n + r.s, 0);
  yield `\n# test files by the time their tests took (${rows.length} files, ${total.toFixed(0)} s summed; run ${process.env.BERTH_TEST_CONCURRENCY ?? '?'} at a time; the slowest ${Math.min(SHOWN, rows.length)}):\n`;
  for (const r of rows.slice(0, SHOWN)) yield `#   ${r.s.toFixed(1).padStart(7)} s  ${String(r.tests).padStart(3)} tests  ${r.file}\n`;
}
