/** Shared by formats' `coverage`: run a writer's conversion in memory and turn a user-fixable refusal into its reason. */
import { isSlimnetError } from '../errors.ts';

export async function problemOf(convert: () => unknown): Promise<string | undefined> {
  try {
    await convert();
    return undefined;
  } catch (e) {
    if (!isSlimnetError(e)) throw e;
    return `${e.where}: ${e.message}`;
  }
}
