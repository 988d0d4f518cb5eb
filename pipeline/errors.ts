/**
 * Errors a user can fix (bad input, bad config, unsupported layer) are SlimnetErrors: they carry a code,
 * the thing at fault and a hint, and the CLI prints them as one line with exit code 2.
 * Anything else is a bug and is re-thrown with its stack.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'MODEL_NOT_FOUND'
  | 'DATA_INVALID'
  | 'DATA_NOT_FOUND'
  | 'LAYER_UNSUPPORTED'
  | 'BACKEND_UNAVAILABLE'
  | 'STAGE_UNKNOWN'
  | 'STAGE_FAILED'
  | 'OUTPUT_REFUSED'
  | 'OUTPUT_UNWRITABLE'
  | 'RUN_INVALID'
  | 'RUN_FAILED'
  | 'PACK_NOT_FOUND';

export class SlimnetError extends Error {
  constructor(
    readonly code: ErrorCode,
    /** The file, config key or layer at fault, e.g. `model.json`, `stages[1].options.ratio`, `layer "conv2d_1"`. */
    readonly where: string,
    message: string,
    /** What the user should do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'SlimnetError';
  }

  /** The single line the CLI prints. */
  oneLine(): string {
    return `slimnet: ${this.where}: ${this.message}${this.hint ? ` (${this.hint})` : ''} [${this.code}]`;
  }
}

export function isSlimnetError(e: unknown): e is SlimnetError {
  return e instanceof SlimnetError;
}
