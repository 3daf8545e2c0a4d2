export * from './cohost-errors';
export * from './invitation-desk';
