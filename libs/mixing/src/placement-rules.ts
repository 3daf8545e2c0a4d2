import { admits } from './mix-cost';
import type { MixTaskPatch, MixTaskSpec } from './mix-task';

/** What placement knows of a node (from the node registry). */
export interface NodeRoom {
  id: string;
  state: 'up' | 'gone';
  cpuBudget: number;
  cpuReserved: number;
  /** Milliseconds since its last heartbeat. */
  silentForMs: number;
}

/**
 * A node silent this long (three missed heartbeats) has its mixes moved,
 * long before the registry lists it gone at 5 s: a mix is off the air
 * meanwhile. A node that was only slow finds its mixes claimed and stops
 * its own copy (mix-placement.ts), so a mix never runs twice for long.
 */
export const MOVE_AFTER_SILENCE_MS = 1500;

/** Whether a node is lost for the mixes it ran. */
export function lostNode(node: NodeRoom | undefined): boolean {
  return !node || node.state === 'gone' || node.silentForMs > MOVE_AFTER_SILENCE_MS;
}

/**
 * The nodes other than `self` that can take a mix of `cost` cores, the one
 * with the most room first (ties by id, so every node orders them alike).
 */
export function nodesWithRoom(nodes: NodeRoom[], cost: number, self: string): NodeRoom[] {
  return nodes
    .filter((n) => n.id !== self && !lostNode(n) && admits(n.cpuBudget, n.cpuReserved, cost))
    .sort((a, b) => b.cpuBudget - b.cpuReserved - (a.cpuBudget - a.cpuReserved) || a.id.localeCompare(b.id));
}

/**
 * A mix's spec with a patch applied, as a node that takes the mix over must
 * start it: the layout, outputs, overlays and names as they are now.
 * (Volumes are not part of a spec: a moved mix starts at full volume.)
 */
export function specAfterPatch(spec: MixTaskSpec, patch: MixTaskPatch): MixTaskSpec {
  const removed = new Set(patch.removeOutputs ?? []);
  const outputs = [...spec.outputs.filter((o) => !removed.has(o))];
  for (const o of patch.addOutputs ?? []) if (!outputs.includes(o)) outputs.push(o);
  return {
    ...spec,
    outputs,
    ...(patch.layout ? { layout: patch.layout } : {}),
    ...(patch.overlays ? { overlays: patch.overlays } : {}),
    ...(patch.names !== undefined ? { names: patch.names } : {}),
  };
}
