export * from './errors';
export * from './redact';
export * from './typed-emitter';
export * from './supervised-process';
export * from './http-error.filter';
export * from './zod-body.pipe';
export * from './ids';
export * from './ffmpeg-process';
