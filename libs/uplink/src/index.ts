export * from './srtla-packet';
export * from './path-scheduler';
export * from './srtla-sender';
