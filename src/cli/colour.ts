/**
 * Whether the CLI colours its output, by Node's own conventions: FORCE_COLOR
 * decides when set (0 or false: off, anything else: on), then NO_COLOR
 * (no-color.org) turns it off; otherwise a terminal that is not "dumb" gets
 * colour and a pipe or file does not.
 */
import { styleText } from 'node:util';
import type { ContainerState } from '../../state-machines/types.js';

export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** One style, or several applied together (outermost first). */
export type Style = Exclude<Parameters<typeof styleText>[0], unknown[]> | Array<Exclude<Parameters<typeof styleText>[0], unknown[]>>;

/** A painter that styles text when colour is on and returns it unchanged when off. */
export type Paint = (style: Style, text: string) => string;

// Several styles are nested by hand: styleText takes an array only in later Node releases.
// validateStream off (Node ≥ 20.18 checks the stream): whether to colour was decided above, for the stream the text goes to.
export const painter = (on: boolean): Paint =>
  on ? (style, text) => [style].flat().reduceRight((t, one) => styleText(one, t, { validateStream: false }), text) : (_style, text) => text;

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
