import { Controller, Get, Inject } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Allow } from '@gw/auth';
import { CohostService } from './cohost.service';

/**
 * Co-hosting state for operators (extension). Invitations otherwise exist only
 * in memory and in the events sent to the two sides; this is the one place to
 * read them, e.g. to check that a burst of bad requests changed nothing.
 */
@ApiTags('co-hosting')
@ApiSecurity('admin')
@Controller('cohost')
export class CohostController {
  constructor(@Inject(CohostService) private readonly cohost: CohostService) {}

  @Get('desks')
  @Allow('admin')
  desks() {
    return this.cohost.desks();
  }
}
