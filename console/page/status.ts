/** A generation's status as words a person reads (and a colour that is not the only cue). */
import { html } from 'htm/preact';

export function StatusBadge(props: { status: string }) {
  return html`<span class=${`status status-${props.status}`}>${props.status}</span>`;
}
