/**
 * A recording's life. It is `recording` from its start; it ends once: `done`
 * when stopped (by a caller or its owner), `failed` when writing failed (disk
 * full, an I/O error; what was written is kept), `interrupted` when the
 * gateway died while it was recording (found at the next start). Pure.
 */
export type RecordingState = 'recording' | 'done' | 'interrupted' | 'failed';

export type RecordingEvent = { kind: 'stop' } | { kind: 'fail'; reason: string } | { kind: 'recover' };

/** The state after `event`, or undefined when the recording has already ended (an end happens once). */
export function nextRecordingState(state: RecordingState, event: RecordingEvent): RecordingState | undefined {
  if (state !== 'recording') return undefined;
  switch (event.kind) {
    case 'stop':
      return 'done';
    case 'fail':
      return 'failed';
    case 'recover':
      return 'interrupted';
  }
}

export const isEnded = (state: RecordingState) => state !== 'recording';
