// The typed errors keep working across bundles: dist/dosh-kube.mjs throws its own copies of these classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, InvalidError, isTransient, NotFoundError, RefusedError, UnavailableError } from './errors.ts';
import { ContainerBusyError } from '../controller/containers.ts';
import { ImageNotFoundError } from '../engine/docker.ts';

/** An error as the other bundle's copy of the class makes it: another class, the same name. */
function foreign(name: string): Error {
  const C = class extends Error {};
  return Object.assign(new C('from dosh-kube.mjs'), { name });
}

test('an error of another copy of a class is recognised by its exact name, and only by it', () => {
  assert.ok(foreign('UnavailableError') instanceof UnavailableError);
  assert.ok(isTransient(foreign('UnavailableError')));
  assert.ok(isTransient(foreign('ConflictError')));
  assert.ok(foreign('NotFoundError') instanceof NotFoundError);
  assert.ok(foreign('InvalidError') instanceof InvalidError);
  assert.ok(!(foreign('InvalidError') instanceof UnavailableError));
  assert.ok(!isTransient(foreign('InvalidError')));
  assert.ok(!(Object.assign({}, { name: 'UnavailableError' }) instanceof UnavailableError), 'an Error, not any object');
});

test('subclasses still need their own prototype chain', () => {
  assert.ok(new ImageNotFoundError('img', 'x') instanceof NotFoundError);
  assert.ok(!(new NotFoundError('x') instanceof ImageNotFoundError));
  assert.ok(!(foreign('UnavailableError') instanceof ContainerBusyError));
  assert.ok(new ContainerBusyError(new RefusedError('ContainerRestarting' as never, 'busy')) instanceof UnavailableError);
  assert.ok(!(new ConflictError('x') instanceof UnavailableError));
});
