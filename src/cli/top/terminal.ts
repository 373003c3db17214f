/**
 * The terminal side of `nodewarden top`: the alternate screen (so the shell's
 * scrollback is untouched), a hidden cursor, raw keys, resizes, and putting
 * everything back however top ends. Escape codes come from ansi-escapes.
 */
import ansiEscapes from 'ansi-escapes';
import readline from 'node:readline';
import type { Key } from './model.js';

export class FullScreen {
  private opened = false;
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly input: NodeJS.ReadStream,
  ) {}

  get size(): { width: number; height: number } {
    return { width: this.out.columns, height: this.out.rows };
  }

  open(onKey: (key: Key) => void, onResize: () => void): void {
    this.opened = true;
    this.out.write(ansiEscapes.enterAlternativeScreen + ansiEscapes.cursorHide + ansiEscapes.clearViewport);
    readline.emitKeypressEvents(this.input);
    this.input.setRawMode(true);
    const keypress = (_text: string | undefined, key: Key | undefined) => onKey(key ?? {});
    this.input.on('keypress', keypress);
    this.out.on('resize', onResize);
    this.listeners.push(
      () => this.input.off('keypress', keypress),
      () => this.out.off('resize', onResize),
    );
    this.input.resume();
  }

  /**
   * Redraw in place, a line at a time (no flicker from clearing the whole
   * screen first). Each line is cleared before it is written, not after: a
   * line as wide as the terminal leaves the cursor on its last character,
   * which an erase after it would remove.
   */
  draw(lines: string[]): void {
    const below = lines.length < this.size.height ? ansiEscapes.cursorTo(0, lines.length) + ansiEscapes.eraseDown : '';
    this.out.write(ansiEscapes.cursorTo(0, 0) + lines.map((l) => ansiEscapes.eraseLine + l).join('\n') + below);
  }

  /** Give the terminal back as it was. Safe to call more than once. */
  close(): void {
    if (!this.opened) return;
    this.opened = false;
    for (const off of this.listeners.splice(0)) off();
    if (this.input.isTTY) this.input.setRawMode(false);
    this.input.pause();
    // The cursor is shown after leaving: a terminal may restore the main screen's modes as they were when it was entered.
    this.out.write(ansiEscapes.exitAlternativeScreen + ansiEscapes.cursorShow);
  }
}
