/**
 * What a message may echo of a user-supplied name: a file path or id is shown whole up to
 * MAX_ECHO characters, longer ones are cut in the middle (the start and the file name stay
 * readable), so a 200,000-character path cannot turn one error into a 400 kB message.
 */
export const MAX_ECHO = 160;

/** `text` as it may appear in a message: at most MAX_ECHO characters plus a note of the length. */
export function echo(text: string, max = MAX_ECHO): string {
  if (text.length <= max) return text;
  const tail = Math.floor(max / 2);
  const head = max - tail - 1;
  return `${text.slice(0, head)}…${text.slice(text.length - tail)} (${text.length} characters)`;
}

/** Cuts every over-long run of non-blank characters in a message (paths, ids) with `echo`. */
export function echoMessage(message: string, max = MAX_ECHO): string {
  return message.replace(new RegExp(`\\S{${max + 1},}`, 'g'), (token) => echo(token, max));
}
