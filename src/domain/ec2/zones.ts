/**
 * The availability zones Berth models in each region: `<region>a`, `b` and `c`, the zones agents
 * report by default (`ecs.availability-zone`, `<region>a` when an agent names none) and the ones
 * the default VPC has a default subnet in. Zone ids are AWS's form (`use1-az1`).
 */

/** How many zones each region has. */
export const ZONES_PER_REGION = 3;

/** A zone of a region. */
export interface Zone {
  name: string;
  id: string;
  region: string;
}

/** The short form of a region in zone ids: `us-east-1` -> `use1`, `ap-southeast-2` -> `apse2`. */
function shortRegion(region: string): string {
  const [area = '', dir = '', n = ''] = region.split('-');
  const d = dir.replace('north', 'n').replace('south', 's').replace('east', 'e').replace('west', 'w').replace('central', 'c');
  return `${area}${d}${n}`;
}

/** The zones of a region, in order. */
export function zonesOf(region: string): Zone[] {
  return Array.from({ length: ZONES_PER_REGION }, (_, i) => ({ name: `${region}${String.fromCharCode(97 + i)}`, id: `${shortRegion(region)}-az${i + 1}`, region }));
}

/** The zone with this name or id in the region, if any. */
export function findZone(region: string, nameOrId: string): Zone | undefined {
  return zonesOf(region).find((z) => z.name === nameOrId || z.id === nameOrId);
}
