import { mount } from 'svelte';

import App from './App.svelte';
import { optionsFromURL } from './options.js';
import './app.css';

mount(App, { target: document.getElementById('app'), props: { options: optionsFromURL() } });
