/** Rewrites the generated table of docs/error-codes.md from shared/errors/codes.ts. */
import { readFile, writeFile } from 'node:fs/promises';
import { renderErrorCodeTable } from '../shared/errors/codes.ts';

const path = new URL('./error-codes.md', import.meta.url);
const begin = '<!-- codes:begin -->';
const end = '<!-- codes:end -->';
const doc = await readFile(path, 'utf8');
const before = doc.slice(0, doc.indexOf(begin) + begin.length);
const after = doc.slice(doc.indexOf(end));
await writeFile(path, `${before}\n${renderErrorCodeTable()}\n${after}`);
