/**
 * The bash wrapper every container runs under (`launch_container.sh`).
 *
 * `/bin/bash launch_container.sh <command...>` with the container directory as
 * working directory. The command only ever arrives as the wrapper's arguments
 * ("$@") — it is never part of the script text, so nothing in it is
 * interpreted by a shell. The wrapper
 *
 *  1. handles SIGTERM with a trap that only records it. A handled signal
 *     (unlike an ignored one) is reset to the default action in the command it
 *     starts, so a SIGTERM to the process group kills the command while the
 *     wrapper lives on to record the command's status (143);
 *  2. writes its own pid to `<id>.pid` (temp file + rename: readers never see
 *     a partial file);
 *  3. runs the command as a foreground child — `( exec "$@" )`: a subshell that
 *     execs the program, so the command always has exec semantics (a PATH
 *     lookup, 127 when not found, 126 when not executable) and a command named
 *     like a bash builtin (`exit`, `exec`, `eval`, `trap`…) cannot run inside
 *     the wrapper and skip the exit-code file. The wrapper itself is not
 *     replaced: it stays the session and group leader and outlives the
 *     command. If the SIGTERM came before the command was started (a kill
 *     right after launch), the trap has swallowed it and nobody else would
 *     see it: the command is then not started at all and the status is 143;
 *  4. ignores SIGTERM from then on (a late TERM must not kill the `mv` below),
 *     writes the status to `<id>.pid.exitcode` (temp file + rename; whatever
 *     the command left under the temp name is removed first) and exits with
 *     it.
 *
 * `command -p mv` finds mv on the default system path whatever PATH the
 * container's environment sets.
 */
import { assertSafeContainerId } from './container-paths.js';

/** Single-quote a string for bash. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * `awaitPlacement`: the daemon moves the wrapper into the container's cgroup
 * after the spawn, then writes `placed` on its stdin. The wrapper runs
 * nothing before that word, so nothing the command starts is ever outside
 * the cgroup (YARN's container-executor writes cgroup.procs before its exec).
 * No word (the daemon died first): it exits 125, runs nothing and writes no
 * pid file.
 */
export function launchScript(id: string, opts: { awaitPlacement?: boolean; oomScoreAdj?: number } = {}): string {
  assertSafeContainerId(id);
  // First thing, before anything is forked: the command inherits it. Raising it needs no privilege (the wrapper
  // starts at the daemon's -999); where /proc does not let it, the container runs at what it inherited.
  const oomScore = opts.oomScoreAdj === undefined ? [] : [`echo ${Math.trunc(opts.oomScoreAdj)} > /proc/self/oom_score_adj 2>/dev/null`];
  const pidFile = shellQuote(`${id}.pid`);
  const exitCodeFile = shellQuote(`${id}.pid.exitcode`);
  const placement = opts.awaitPlacement
    ? ['IFS= read -r placed; [ "$placed" = placed ] || exit 125', 'exec 0</dev/null']
    : [];
  return [
    '#!/bin/bash',
    '# nodewarden launch wrapper. The command is this script\'s arguments ("$@"),',
    '# never part of its text. Do not edit: recovery reads the files it writes.',
    ...oomScore,
    'term=0',
    "trap 'term=1' TERM",
    `pid_file=${pidFile}`,
    `exit_code_file=${exitCodeFile}`,
    // After the word: a pid file says the command may have run. A wrapper that never got it leaves none, so
    // recovery takes the launch for never started (and starts it), not for one that ended with no exit code.
    ...placement,
    'echo "$$" > "${pid_file}.tmp" && command -p mv -f -- "${pid_file}.tmp" "${pid_file}"',
    'if [ "$term" = 0 ]; then',
    '  ( [ "$term" = 0 ] || exit 143; exec "$@" )',
    '  rc=$?',
    'else',
    '  rc=143',
    'fi',
    "trap '' TERM",
    // Whatever the command left under the temp name (a FIFO would block the echo) goes first.
    'command -p rm -f -- "${exit_code_file}.tmp"',
    'echo "$rc" > "${exit_code_file}.tmp" && command -p mv -f -- "${exit_code_file}.tmp" "${exit_code_file}"',
    'exit "$rc"',
    '',
  ].join('\n');
}
