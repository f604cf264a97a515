/**
 * Paired timing for benchmarks that compare two calls in one run (a peer and Berth's path):
 * `warmup + n` rounds, each running both calls, alternating which goes first so neither always
 * follows the other; the first `warmup` rounds are dropped. Each call resolves to its own
 * duration in milliseconds.
 */
export async function interleavedPairs(peer: () => Promise<number>, subject: () => Promise<number>, warmup: number, n: number): Promise<{ peer: number[]; subject: number[] }> {
  const out = { peer: [] as number[], subject: [] as number[] };
  for (let k = 0; k < warmup + n; k++) {
    const peerFirst = k % 2 === 0;
    const p = peerFirst ? await peer() : 0;
    const s = await subject();
    const p2 = peerFirst ? p : await peer();
    if (k >= warmup) {
      out.peer.push(p2);
      out.subject.push(s);
    }
  }
  return out;
}
