import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'jr:public';
/** Routes that need no token at all: /healthz and /readyz (/metrics needs metrics:read). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
