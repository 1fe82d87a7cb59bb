/** How the page words what it shows in little room: a prompt on a tile, a moment in time. */

/** The most characters of a prompt a gallery tile shows, the ellipsis included. */
export const TILE_PROMPT_CHARS = 60;

/** The prompt cut to `max` characters, at a word when one ends late enough, with an ellipsis. */
export function shortPrompt(prompt: string, max: number = TILE_PROMPT_CHARS): string {
  const text = prompt.trim().replace(/\s+/g, ' ');
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space >= max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

const MOMENT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A time as the reader's locale and time zone write it (the ISO form stays in `datetime`). */
export function moment(iso: string): string {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? iso : MOMENT.format(at);
}
