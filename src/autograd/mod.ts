/**
 * Autograd: gradient recording, backward, no-grad scopes.
 * @module
 */
export { backward, gradEnabled, noGrad, record } from "./tape.ts";
