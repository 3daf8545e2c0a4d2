import { LineLogger, newId } from '@gw/common';
import type { Principal } from '@gw/auth';
import { assertConferenceHost, ConferenceService } from '@gw/conference';
import { forwardedError, NodeRpc, respondForwarded } from '@gw/im';
import { admits } from './mix-cost';
import type { MixTask, MixTaskPatch, MixTaskSpec } from './mix-task';
import { MixCapacityError, MixingService } from './mixing.service';
import { lostNode, NodeRoom, nodesWithRoom, specAfterPatch } from './placement-rules';

/** A mix task as the cluster knows it: which node runs it, and the spec to start it again elsewhere. */
export interface PlacedMix {
  id: string;
  node: string;
  spec: MixTaskSpec;
}

/** Where the cluster keeps its placed mixes (Redis, libs/cluster/src/mix-directory.ts). */
export interface MixDirectory {
  put(mix: PlacedMix): Promise<void>;
  /** Removes the record if `node` still runs it. */
  remove(id: string, node: string): Promise<void>;
  all(): Promise<PlacedMix[]>;
  /** Atomically hands the mix from `from` to `to`; false when another node took it first (or it is gone). */
  claim(id: string, from: string, to: string): Promise<boolean>;
}

type MixView = ReturnType<MixTask['view']>;
type Op = { op: 'get' } | { op: 'stop' } | { op: 'patch'; patch: MixTaskPatch };

const CREATE = 'mix:create';
const OPERATE = 'mix:op';
/** How often each node looks for mixes of lost nodes. */
const SWEEP_MS = 250;

/**
 * Mix tasks placed on the cluster's nodes by CPU cost, and moved when their
 * node is lost (cluster mode, docs/cluster.md). A mix starts on the node
 * asked when it has room, else on the node with the most room (from the
 * registry's heartbeats); each node still admits it by its own budget, and
 * when none can, MIX_CAPACITY. Every running mix is recorded in Redis with
 * its node and its spec as patched; when a node goes silent for 1.5 s, a
 * node that is left claims each of its mixes (one atomic claim, one winner)
 * and starts it again under the same id, pushing to the same outputs, on
 * itself or on a node with room. A mix runs on this node's copy of its
 * conference when the conference lives elsewhere (conference-span.ts).
 * Requests about a mix reach the node that runs it (NodeRpc). On one node
 * of its own, none of this runs: mixes start here.
 */
export class MixPlacement {
  #directory: MixDirectory | undefined;
  #nodes: (() => Promise<NodeRoom[]>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;
  #stopping = false;

  constructor(
    private readonly mixing: MixingService,
    private readonly conferences: ConferenceService,
    private readonly rpc: NodeRpc,
    readonly nodeId: string,
    private readonly logger: LineLogger,
  ) {}

  get clustered(): boolean {
    return this.#directory !== undefined;
  }

  /** Cluster mode: records mixes in `directory`, serves the other nodes, and takes over lost nodes' mixes. */
  attach(directory: MixDirectory, nodes: () => Promise<NodeRoom[]>): void {
    this.#directory = directory;
    this.#nodes = nodes;
    this.rpc.handle(CREATE, (payload) => {
      const m = payload as { to: string; spec: MixTaskSpec; id: string };
      if (m.to !== this.nodeId) return null;
      return respondForwarded(async () => this.#startHere(m.spec, m.id));
    });
    this.rpc.handle(OPERATE, (payload) => {
      const m = payload as { id: string; principal: Principal } & Op;
      if (!this.mixing.has(m.id)) return null;
      return respondForwarded(async () => ({ ...(await this.#operate(m.principal, m.id, m)) }));
    });
    this.#timer = setInterval(() => void this.#sweep(), SWEEP_MS);
    this.#timer.unref();
  }

  /** At shutdown: no more take-overs from here (this node's own mixes stay recorded, for the others to move). */
  stop(): void {
    this.#stopping = true;
    clearInterval(this.#timer);
  }

  /** Starts a mix where there is room: here first, else the node with the most room. */
  async create(spec: MixTaskSpec, id?: string): Promise<MixView & { node: string }> {
    if (!this.#directory) return this.#startHere(spec, id);
    return this.#place(spec, id, await this.#nodes!());
  }

  async #place(spec: MixTaskSpec, id: string | undefined, nodes: NodeRoom[]): Promise<MixView & { node: string }> {
    const local = this.conferences.find(spec.conferenceId);
    const cost = this.mixing.costOf(spec.settings, spec.participants?.length ?? local?.participantCount ?? 2);
    const { budget, reserved } = this.mixing.capacity();
    if (admits(budget, reserved, cost)) return this.#startHere(spec, id);
    const mixId = id ?? newId('mix');
    for (const node of nodesWithRoom(nodes, cost, this.nodeId)) {
      const reply = await this.rpc.forward(CREATE, { to: node.id, spec, id: mixId });
      if (!reply) continue; // gone meanwhile
      if (reply.ok) return reply as unknown as MixView & { node: string };
      // Its own admission refused (its room was taken since its last heartbeat): the next one.
      if (reply.error.code === 'MIX_CAPACITY') continue;
      throw forwardedError(reply.error);
    }
    throw new MixCapacityError(cost, reserved, budget);
  }

  /** Starts the mix on this node and records it; its record goes when it ends (not at a shutdown: the others move it). */
  async #startHere(spec: MixTaskSpec, id?: string): Promise<MixView & { node: string }> {
    const task = await this.mixing.create(spec, undefined, id);
    const directory = this.#directory;
    if (directory) {
      let current = spec;
      const record = () => directory.put({ id: task.id, node: this.nodeId, spec: current }).catch((error: Error) => this.logger.warn(`mix ${task.id}: not recorded: ${error.message}`));
      await record();
      const onState = ({ state, reason }: { state: string; reason?: string }) => {
        if (state !== 'stopped' && state !== 'failed') return;
        task.off('state', onState);
        task.off('patched', onPatched);
        if (reason === 'shutdown' || this.#stopping) return;
        void directory.remove(task.id, this.nodeId).catch(() => undefined);
      };
      const onPatched = (patch: MixTaskPatch) => {
        current = specAfterPatch(current, patch);
        void record();
      };
      task.on('state', onState);
      task.on('patched', onPatched);
    }
    return { ...task.view(), node: this.nodeId };
  }

  /**
   * Every mix the caller may see (the admin all, a host its conferences'). In a
   * cluster: every placed mix, each asked of the node that runs it; one whose
   * node does not answer (gone, its mix about to move) is left out until it runs again.
   */
  async list(principal: Principal): Promise<(MixView & { node: string })[]> {
    const visible = (conferenceId: string) => principal.kind === 'admin' || this.conferences.find(conferenceId)?.hostUserId === principal.userId;
    const here = this.mixing
      .list()
      .filter((t) => visible(t.conferenceId))
      .map((t) => ({ ...t.view(), node: this.nodeId }));
    if (!this.#directory) return here;
    const elsewhere = (await this.#directory.all()).filter((m) => m.node !== this.nodeId && !this.mixing.has(m.id));
    const views = await Promise.all(elsewhere.map((m) => this.operate(principal, m.id, { op: 'get' }).catch(() => undefined)));
    return [...here, ...views.filter((v): v is MixView & { node: string } => v !== undefined)];
  }

  /** GET, PATCH or DELETE of a mix on whichever node runs it; MIX_TASK_NOT_FOUND when none does. */
  async operate(principal: Principal, id: string, op: Op): Promise<MixView & { node: string }> {
    if (this.mixing.has(id) || !this.#directory) return this.#operate(principal, id, op);
    const reply = await this.rpc.forward(OPERATE, { id, principal, ...op });
    if (!reply) return this.#operate(principal, id, op); // its local MIX_TASK_NOT_FOUND (or an ended task here)
    if (!reply.ok) throw forwardedError(reply.error);
    const { ok: _ok, ...view } = reply;
    return view as unknown as MixView & { node: string };
  }

  async #operate(principal: Principal, id: string, op: Op): Promise<MixView & { node: string }> {
    const task = this.mixing.get(id);
    assertConferenceHost(principal, task.conferenceId, this.conferences.find(task.conferenceId));
    if (op.op === 'patch') await task.patch(op.patch);
    if (op.op === 'stop') await task.stop('stopped by request');
    return { ...task.view(), node: this.nodeId };
  }

  /** Takes over the mixes of nodes that went silent: one claim each, the winner starts it again. */
  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#stopping || !this.#directory || !this.#nodes) return;
    this.#sweeping = true;
    try {
      const [nodes, mixes] = await Promise.all([this.#nodes(), this.#directory.all()]);
      const byId = new Map(nodes.map((n) => [n.id, n]));
      for (const mix of mixes) {
        // Claimed away from this node (it was silent, not dead): the other node runs it now.
        if (mix.node !== this.nodeId && this.mixing.has(mix.id)) {
          this.logger.warn(`mix ${mix.id}: node ${mix.node} took it over; stopping it here`);
          await this.mixing.get(mix.id).stop(`moved to node ${mix.node}`);
          continue;
        }
        if (mix.node === this.nodeId || !lostNode(byId.get(mix.node))) continue;
        if (!(await this.#directory.claim(mix.id, mix.node, this.nodeId))) continue;
        const lostAt = Date.now();
        this.logger.warn(`mix ${mix.id}: node ${mix.node} is lost; starting it again`);
        try {
          const placed = await this.#place(mix.spec, mix.id, nodes.filter((n) => n.id !== mix.node));
          this.logger.log(`mix ${mix.id}: moved from node ${mix.node} to node ${placed.node} in ${Date.now() - lostAt} ms`);
        } catch (error) {
          this.logger.error(`mix ${mix.id} from node ${mix.node} could not start again: ${(error as Error).message}`);
          await this.#directory.remove(mix.id, this.nodeId).catch(() => undefined);
        }
      }
    } catch (error) {
      this.logger.warn(`looking for mixes of lost nodes: ${(error as Error).message}`);
    } finally {
      this.#sweeping = false;
    }
  }
}
