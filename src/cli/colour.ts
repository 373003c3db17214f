/**
 * Whether the CLI colours its output, by the usual conventions: NO_COLOR
 * (no-color.org) turns it off, FORCE_COLOR (other than 0) on; otherwise a
 * terminal that is not "dumb" gets colour and a pipe or file does not.
 */
import { styleText } from 'node:util';
import type { ContainerState } from '../../state-machines/types.js';

export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export type Style = Parameters<typeof styleText>[0];

/** A painter that styles text when colour is on and returns it unchanged when off. */
export type Paint = (style: Style, text: string) => string;

// validateStream off: whether to colour was decided above, for the stream the text goes to.
export const painter = (on: boolean): Paint => (on ? (style, text) => styleText(style, text, { validateStream: false }) : (_style, text) => text);

/** One colour per kind of state, the same in `events` and `top`: green runs, red failed or killed, yellow paused, cyan on its way, grey done. */
export function stateStyle(state: ContainerState): Style {
  switch (state) {
    case 'RUNNING':
    case 'EXITED_WITH_SUCCESS':
      return 'green';
    case 'EXITED_WITH_FAILURE':
    case 'LOCALIZATION_FAILED':
    case 'KILLING':
    case 'CONTAINER_CLEANEDUP_AFTER_KILL':
      return 'red';
    case 'PAUSING':
    case 'PAUSED':
    case 'RESUMING':
      return 'yellow';
    case 'DONE':
      return 'gray';
    default:
      return 'cyan'; // NEW, LOCALIZING, SCHEDULED, RELAUNCHING
  }
}
