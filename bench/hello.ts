/**
 * Deno's own hello world: the start-up cost every Deno program pays, the benchmark's yardstick.
 *
 * @module
 */

console.log("hello");
