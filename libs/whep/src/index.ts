export * from './whep-sdp';
export * from './program-feed-args';
export * from './program-feed';
export * from './whep-session';
export * from './viewing-room';
export * from './whep.service';
export * from './whep.controller';
export * from './whep.module';
