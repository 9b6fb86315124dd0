/** Raised when bytes do not form the record they were expected to be. Never a crash: callers close the connection. */
export class DecodeError extends Error {
  readonly code = 'ERR_JUTE_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Raised by the frame reader when a peer announces a frame larger than the configured cap, or a negative length. */
export class FrameSizeError extends DecodeError {
  constructor(readonly length: number, readonly maxLength: number) {
    super(`frame length ${length} outside 0..${maxLength}`);
    this.name = 'FrameSizeError';
  }
}
