import { Module } from '@nestjs/common';
import { ReplicaBusRepository } from './replica-bus.repository';
import { ReplicaBus } from './replica-bus.service';

/** The replicas' shared events (DomainEvents, relayed over Redis pub/sub). */
@Module({ providers: [ReplicaBus, ReplicaBusRepository] })
export class BusModule {}
