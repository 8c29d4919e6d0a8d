import { SetMetadata } from '@nestjs/common';
import type { Scope } from '@jr/contracts';

export const REQUIRED_SCOPE = 'jr:scope';

/**
 * The scope a route needs. A route with neither this nor @Public() is open to the bootstrap admin
 * token only (fail closed: a route someone forgot to annotate is not open to every token).
 */
export const RequireScope = (scope: Scope): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_SCOPE, scope);
