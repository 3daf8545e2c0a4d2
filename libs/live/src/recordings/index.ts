export * from './fmp4-index';
export * from './recording-files';
export * from './recording-playlist';
export * from './recording-state';
export * from './recording-writer';
export * from './recording.service';
export * from './recordings.controller';
export * from './recordings.module';
