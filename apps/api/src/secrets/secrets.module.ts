import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { devKeyFile, loadOrCreateDevKey } from './dev-secrets-key';
import { SecretBox } from './secret-box';
import { SecretsService } from './secrets.service';

async function secretsService(config: AppConfig, log: Logger): Promise<SecretsService> {
  if (config.secretsKeys && config.secretsKeys.length > 0) {
    const box = new SecretBox(config.secretsKeys);
    log.info({ activeKeyId: box.activeKeyId, keyIds: config.secretsKeys.map((k) => k.id) }, 'job secrets enabled');
    return new SecretsService(box);
  }
  if (config.dev) {
    const { keys, created } = await loadOrCreateDevKey(config.dataDir);
    log.warn(
      { file: devKeyFile(config.dataDir), created },
      'JR_DEV=1 and no JR_SECRETS_KEY: job secrets sealed with a development key kept in the data directory',
    );
    return new SecretsService(new SecretBox(keys));
  }
  log.info('no JR_SECRETS_KEY: jobs with secrets are refused');
  return new SecretsService(null);
}

@Global()
@Module({
  providers: [{ provide: SecretsService, useFactory: secretsService, inject: [APP_CONFIG, LOGGER] }],
  exports: [SecretsService],
})
export class SecretsModule {}
