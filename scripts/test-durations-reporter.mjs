// A node:test reporter that prints, once the run ends, how long each test file took (wall time
// from its first test being queued to its last result), slowest first: where the suite's time
// goes. run-tests.mjs adds it beside the TAP reporter.
const SHOWN = 20;

export default async function* durations(source) {
  const files = new Map();
  const started = Date.now();
  for await (const ev of source) {
    const file = ev.data?.file;
    if (!file) continue;
    const now = Date.now();
    const f = files.get(file) ?? { first: now, last: now, tests: 0 };
    if (ev.type === 'test:pass' || ev.type === 'test:fail') {
      f.last = now;
      if (ev.data.nesting === 0) f.tests++;
    }
    files.set(file, f);
  }
  const rows = [...files].map(([file, f]) => ({ file: file.replace(/^.*?dist\//, ''), s: (f.last - f.first) / 1000, tests: f.tests })).sort((a, b) => b.s - a.s);
  const total = (Date.now() - started) / 1000;
  yield `\n# test files by duration (${rows.length} files, ${total.toFixed(0)} s in all; the slowest ${Math.min(SHOWN, rows.length)}):\n`;
  for (const r of rows.slice(0, SHOWN)) yield `#   ${r.s.toFixed(1).padStart(7)} s  ${String(r.tests).padStart(3)} tests  ${r.file}\n`;
}
