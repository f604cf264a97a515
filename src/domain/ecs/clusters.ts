/**
 * ECS clusters in the store: lookup, creation (idempotent, as ECS: creating an ACTIVE cluster
 * returns it unchanged) and changes. Counts shown by DescribeClusters are derived from the
 * other kinds (./clusterCounts.ts), never stored.
 */
import { mutate } from '../mutate.js';
import { ecsErrors } from './errors.js';
import { KIND, clusterKey, clusterNameOf, type Scope } from './keys.js';
import type { ClusterRecord } from './records.js';

/** The cluster record by name (any status), or undefined. */
export async function findCluster(s: Scope, name: string): Promise<ClusterRecord | undefined> {
  return (await s.platform.store.get<ClusterRecord>(KIND.cluster, clusterKey(s.region, name)))?.value;
}

/** Loads an ACTIVE cluster by name or ARN (absent: "default") or throws ClusterNotFoundException. */
export async function requireCluster(s: Scope, ref: string | undefined): Promise<ClusterRecord> {
  const rec = await findCluster(s, clusterNameOf(s, ref));
  if (!rec || rec.status !== 'ACTIVE') throw ecsErrors.clusterNotFound();
  return rec;
}

/**
 * Stores `created` unless an ACTIVE cluster of that name exists (an INACTIVE one is replaced).
 * Returns the cluster that is ACTIVE afterwards: the new one, or the one that was there.
 */
export async function createCluster(s: Scope, created: ClusterRecord): Promise<ClusterRecord> {
  const r = await mutate<ClusterRecord>(s.platform.store, KIND.cluster, clusterKey(s.region, created.clusterName), (cur) => (cur?.status === 'ACTIVE' ? undefined : created), {
    what: `Cluster ${created.clusterName}`,
  });
  return r.value!;
}

/** Changes an ACTIVE cluster (`change` returns the new record, or undefined for none); throws ClusterNotFoundException. */
export async function changeCluster(s: Scope, ref: string | undefined, change: (c: ClusterRecord) => ClusterRecord | undefined): Promise<ClusterRecord> {
  const name = clusterNameOf(s, ref);
  const r = await mutate<ClusterRecord>(
    s.platform.store,
    KIND.cluster,
    clusterKey(s.region, name),
    (cur) => {
      if (!cur || cur.status !== 'ACTIVE') throw ecsErrors.clusterNotFound();
      return change(cur);
    },
    { what: `Cluster ${name}` },
  );
  return r.value!;
}
