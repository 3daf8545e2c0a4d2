import { Controller, Get, Inject } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Allow } from '@gw/auth';
import { UnavailableError } from '@gw/common';
import { NodeRegistry } from './node-registry';

/** Operator view of the cluster: every node, up or gone, with its load and capacity. */
@ApiTags('ops')
@ApiSecurity('admin')
@Controller('admin/nodes')
export class NodesController {
  constructor(@Inject(NodeRegistry) private readonly registry: NodeRegistry) {}

  @Get()
  @Allow('admin')
  async nodes() {
    try {
      return await this.registry.list();
    } catch (error) {
      throw new UnavailableError(`the cluster's Redis does not answer: ${(error as Error).message}`, 'CLUSTER_UNAVAILABLE');
    }
  }
}
