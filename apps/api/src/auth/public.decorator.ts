import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'jr:public';
/** Routes that need no admin token: /healthz, /readyz, /metrics. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
