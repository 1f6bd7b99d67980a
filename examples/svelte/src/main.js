import { mount } from 'svelte';

import App from './App.svelte';
import { optionsFromURL } from '../../shared/room-options.js';
import './app.css';

mount(App, { target: document.getElementById('app'), props: { options: optionsFromURL('peerset-svelte') } });
