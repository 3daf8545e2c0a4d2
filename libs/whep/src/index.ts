export * from './whep-sdp';
