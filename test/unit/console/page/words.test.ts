/** How the console words a gallery tile's prompt and a time in little room. */
import { describe, expect, it } from 'vitest';
import { moment, shortPrompt, TILE_PROMPT_CHARS } from '#console/page/words.ts';

describe('shortPrompt', () => {
  it('keeps a prompt that fits, its spaces made single', () => {
    expect(shortPrompt('a red fox in the snow')).toBe('a red fox in the snow');
    expect(shortPrompt('  a red\n fox  ')).toBe('a red fox');
    expect(shortPrompt('x'.repeat(TILE_PROMPT_CHARS))).toBe('x'.repeat(TILE_PROMPT_CHARS));
  });

  it('cuts a longer one at a word, within the limit, with an ellipsis', () => {
    const prompt =
      'a long winding mountain road at dusk with lanterns along the stone walls and a red car';
    const short = shortPrompt(prompt);
    expect(short).toBe('a long winding mountain road at dusk with lanterns along…');
    expect(short.length).toBeLessThanOrEqual(TILE_PROMPT_CHARS);
  });

  it('cuts inside a word when no word ends late enough', () => {
    const short = shortPrompt(`a ${'y'.repeat(100)}`, 20);
    expect(short).toBe(`a ${'y'.repeat(17)}…`);
    expect(short.length).toBe(20);
  });
});

describe('moment', () => {
  it('writes a time in the reader’s locale, and leaves text that is not a time as it is', () => {
    expect(moment('2026-12-08T02:14:00.000Z')).toMatch(/2026/);
    expect(moment('not a time')).toBe('not a time');
  });
});
