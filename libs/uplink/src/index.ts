export * from './srtla-packet';
export * from './path-scheduler';
export * from './helper-protocol';
export * from './srtla-sender';
export * from './uplink-helper';
