export * from './meta.ts';
export * from './session.ts';
export * from './event.ts';
