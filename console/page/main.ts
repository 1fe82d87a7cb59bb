/** The console's entry: the app rendered into the page the console function serves. */
import { html } from 'htm/preact';
import { render } from 'preact';
import { App } from './app.ts';
import './styles.css';

const root = document.getElementById('app');
if (root !== null) render(html`<${App} />`, root);
