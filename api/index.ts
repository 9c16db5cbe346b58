export * from './meta.ts';
export * from './session.ts';
