export * from './database';
export * from './channel.repository';
export * from './persistence.module';
