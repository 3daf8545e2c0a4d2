import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBody, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { resourceId, ZodPipe } from '@gw/common';
import { Allow } from './access.guard';
import { USER_ROLES } from './principal';
import { TokenService } from './token.service';

const issueTokenBody = z.strictObject({
  userId: resourceId,
  role: z.enum(USER_ROLES),
  channelId: resourceId.optional(),
  conferenceId: resourceId.optional(),
  ttlSeconds: z.number().int().min(10).max(7 * 86400).optional(),
});

@ApiTags('auth')
@ApiSecurity('admin')
@Controller('tokens')
export class TokensController {
  constructor(@Inject(TokenService) private readonly tokens: TokenService) {}

  @Post()
  @HttpCode(201)
  @Allow('admin')
  @ApiBody({ schema: z.toJSONSchema(issueTokenBody) as object })
  issue(@Body(new ZodPipe(issueTokenBody)) body: z.infer<typeof issueTokenBody>) {
    return this.tokens.issue(body);
  }
}
