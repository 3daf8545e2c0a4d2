export * from './database';
export * from './channel.repository';
export * from './persistence.module';
export * from './conference.repository';
export * from './session.repository';
export * from './recording.repository';
