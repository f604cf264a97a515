// The example worker: a batch job that prints COUNT numbered lines (default 20), one every
// INTERVAL_MS (default 200), then exits 0; with FAIL=1 it exits 3 after its lines instead.
const count = Number(process.env.COUNT ?? 20);
const interval = Number(process.env.INTERVAL_MS ?? 200);
let n = 0;
const timer = setInterval(() => {
  n++;
  console.log(`work item ${n} of ${count} done`);
  if (n >= count) {
    clearInterval(timer);
    if (process.env.FAIL === '1') {
      console.error('worker: failing on purpose (FAIL=1)');
      process.exit(3);
    }
    console.log('worker: all done');
  }
}, interval);
process.on('SIGTERM', () => {
  console.log(`worker: stopped after ${n} of ${count}`);
  process.exit(0);
});
