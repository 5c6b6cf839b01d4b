/**
 * Assertions on thrown errors: the class and a fragment of the message, as the table tests state
 * them.
 *
 * @module
 */

import assert from "node:assert/strict";

/** A class of errors (its constructor arguments do not matter here). */
export type ErrorClass<E extends Error = Error> = abstract new (...args: never[]) => E;

function check<E extends Error>(caught: unknown, errorClass: ErrorClass<E>, fragment: string): E {
  assert.ok(
    caught instanceof errorClass,
    `expected a ${errorClass.name}, got ${caught === undefined ? "no error" : String(caught)}`,
  );
  assert.ok(
    caught.message.includes(fragment),
    `expected the message to contain "${fragment}", got "${caught.message}"`,
  );
  return caught;
}

/** Asserts that `fn` throws an `errorClass` whose message contains `fragment`; returns it. */
export function assertThrowsError<E extends Error>(
  fn: () => unknown,
  errorClass: ErrorClass<E>,
  fragment: string,
): E {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  return check(caught, errorClass, fragment);
}

/** Asserts that `fn` rejects with an `errorClass` whose message contains `fragment`; returns it. */
export async function assertRejectsError<E extends Error>(
  fn: () => Promise<unknown>,
  errorClass: ErrorClass<E>,
  fragment: string,
): Promise<E> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  return check(caught, errorClass, fragment);
}
